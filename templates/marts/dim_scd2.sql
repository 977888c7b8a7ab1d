[#- datachonk built-in template: a slowly changing (type 2) dimension, one row per version of a
    key, read from its dbt snapshot, plus its unknown member (the row facts point to when their
    key matches none). Context: entity (name, model, from, snapshot_name, materialized, select,
    unknown). -#]
{%- set dc_text_columns = [] -%}
{%- if execute -%}
{%- for column in adapter.get_columns_in_relation(ref([[ entity.snapshot_name | jinja_str ]])) if column.is_string() -%}
{%- do dc_text_columns.append(column.name | lower) -%}
{%- endfor -%}
{%- endif %}
[% if entity.materialized %]
{{ config(materialized=[[ entity.materialized | jinja_str ]]) }}

[% endif %]
with

snapshot as (

    select * from {{ ref([[ entity.snapshot_name | jinja_str ]]) }}

),

final as (

    select
[% for item in entity.select %]
        [[ item ]][[ "" if loop.last else "," ]]
[% endfor %]

    from snapshot

),

unknown_member as (

    select
[% for item in entity.unknown %]
        [[ item ]][[ "" if loop.last else "," ]]
[% endfor %]

    from (select 1 as one) as unknown_row
    left join snapshot on 1 = 0

)

select * from final
union all
select * from unknown_member

[#- datachonk built-in template: a dimension, one row per key, from the model the spec names,
    plus its unknown member (the row facts point to when their key matches none; its text attributes say `Unknown`,
    the others are null). Context: entity (name, model, from, materialized, select: the select list, one SQL item each;
    unknown: the unknown member's select list over a row of nulls). Values in double square
    brackets, tags in bracket-percent: dbt's curly braces pass through. -#]
{%- set dc_text_columns = [] -%}
{%- if execute -%}
{%- for column in adapter.get_columns_in_relation(ref([[ entity.from | jinja_str ]])) if column.is_string() -%}
{%- do dc_text_columns.append(column.name | lower) -%}
{%- endfor -%}
{%- endif %}
[% if entity.materialized %]
{{ config(materialized=[[ entity.materialized | jinja_str ]]) }}

[% endif %]
with

source as (

    select * from {{ ref([[ entity.from | jinja_str ]]) }}

),

final as (

    select
[% for item in entity.select %]
        [[ item ]][[ "" if loop.last else "," ]]
[% endfor %]

    from source

),

unknown_member as (

    select
[% for item in entity.unknown %]
        [[ item ]][[ "" if loop.last else "," ]]
[% endfor %]

    from (select 1 as one) as unknown_row
    left join source on 1 = 0

)

select * from final
union all
select * from unknown_member

[#- datachonk built-in template: a fact at its grain, joined to each entity it references for
    that entity's surrogate key. Context: fact (name, model, from, materialized, select, joins:
    alias, model, on; unique_key: a Jinja literal; incremental: filter, strategy,
    on_schema_change, or none). -#]
[% if fact.incremental %]
{{
    config(
        materialized='incremental',
        unique_key=[[ fact.unique_key ]],
        incremental_strategy=[[ fact.incremental.strategy | jinja_str ]],
        on_schema_change=[[ fact.incremental.on_schema_change | jinja_str ]]
    )
}}

[% elif fact.materialized %]
{{ config(materialized=[[ fact.materialized | jinja_str ]]) }}

[% endif %]
with

source as (

    select * from {{ ref([[ fact.from | jinja_str ]]) }} as src
[% if fact.incremental %]
    {% if is_incremental() %}
    where [[ fact.incremental.filter ]]
    {% endif %}
[% endif %]

),

[% for join in fact.joins %]
[[ join.alias ]] as (

    select * from {{ ref([[ join.model | jinja_str ]]) }}

),

[% endfor %]
final as (

    select
[% for item in fact.select %]
        [[ item ]][[ "" if loop.last else "," ]]
[% endfor %]

    from source
[% for join in fact.joins %]
    left join [[ join.alias ]]
        on [[ join.on ]]
[% endfor %]

)

select * from final

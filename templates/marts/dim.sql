[#- datachonk built-in template: a dimension, one row per key, from the model the spec names
    (issue 15). Context: entity (name, model, from, select: the select list, one SQL item each).
    Values in double square brackets, tags in bracket-percent: dbt's curly braces pass through. -#]
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

)

select * from final

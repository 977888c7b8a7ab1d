[#- datachonk built-in template: a slowly changing (type 2) dimension, one row per version of a
    key, read from its dbt snapshot. Context: entity (name, model, from, snapshot_name, select). -#]
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

)

select * from final

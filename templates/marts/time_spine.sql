[#- datachonk built-in template: the time spine dbt's semantic layer needs (one row per day),
    rendered when the project has none. Context: time_spine (name, column, start, end). -#]
{{ config(materialized='table') }}

with

days as (

    {{ dbt.date_spine('day', "cast('[[ time_spine.start ]]' as date)", "cast('[[ time_spine.end ]]' as date)") }}

),

final as (

    select cast(date_day as date) as [[ time_spine.column ]]

    from days

)

select * from final

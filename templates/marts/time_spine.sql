[#- datachonk built-in template: the time spine dbt's semantic layer needs (one row per day),
    rendered when the project has none. Context: time_spine (name, column; start and end: Jinja
    expressions giving the first day and the day after the last). -#]
{{ config(materialized='table') }}

with

days as (

    {{ dbt.date_spine('day', [[ time_spine.start ]], [[ time_spine.end ]]) }}

),

final as (

    select cast(date_day as date) as [[ time_spine.column ]]

    from days

)

select * from final

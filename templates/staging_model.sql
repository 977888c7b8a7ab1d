[#- datachonk built-in template: one staging model per source table (dbt Labs' source → renamed
    pattern). datachonk's delimiters are double square brackets for values, bracket-percent for
    tags and bracket-hash for comments, so dbt's own curly braces pass through as text.
    Each column line ends in a block tag, which eats its newline (trim_blocks): the blank line
    after it supplies the newline. -#]
with

source as (

    select * from {{ source([[ source.name | jinja_str ]], [[ table.name | jinja_str ]]) }}

),

renamed as (

    select
[% for column in table.columns %]
        [[ column.expression ]][% if column.expression != column.alias %] as [[ column.alias ]][% endif %][% if not loop.last %],[% endif %]

[% else %]
        *
[% endfor %]

    from source

)

select * from renamed

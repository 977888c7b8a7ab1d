//! Why the contexts cannot be built - names that clash, a key that is not there.

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ContextError {
    #[error("columns of {table} collide after snake_casing: {list}")]
    ColumnCollision { table: String, list: String },
    #[error("tables collide after snake_casing: {list}")]
    TableCollision { list: String },
    #[error(
        "source `{source_name}` spans several schemas ({schemas}); a dbt source has one schema"
    )]
    SchemaConflict {
        source_name: String,
        schemas: String,
    },
    #[error("{table}: column {position} ({name}): {problem}")]
    BadColumnName {
        table: String,
        /// 1-based, in the warehouse's column order.
        position: usize,
        /// The raw name, shortened for the message.
        name: String,
        problem: String,
    },
    #[error("table {source_name}.{name}: {problem}")]
    BadTableName {
        source_name: String,
        name: String,
        problem: String,
    },
    #[error("`{name}` is not a valid dbt source name (it becomes part of file and model names)")]
    BadSourceName { name: String },
    #[error("generate.primary_key.tables: {table} has no column `{column}` (columns: {columns})")]
    PrimaryKeyNotFound {
        table: String,
        column: String,
        columns: String,
    },
}

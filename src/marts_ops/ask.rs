//! `new`'s wizard on a terminal: ask for what the flags did not say. Any prompt failure
//! (Ctrl-C, an unreadable terminal) ends it with nothing written.

use std::path::Path;

use crate::generate::marts::{self, model, spec};
use crate::init::prompter::{PromptError, Prompter};

use super::entry::{Entry, Kind};
use super::error::MartsError;
use super::propose::propose_entities;

/// What the wizard needs to propose answers: the project's models and the spec as it is.
pub struct Context<'a> {
    pub known: &'a marts::Known,
    pub current: &'a spec::Spec,
    pub root: &'a Path,
}

pub fn ask(a: &mut Entry, p: &mut dyn Prompter, cx: &Context) -> Result<(), MartsError> {
    match a.kind {
        Kind::Entity | Kind::Fact => {
            if a.from.is_none() {
                a.from = Some(ask_model(p, cx.known)?);
            }
            if a.kind == Kind::Entity {
                ask_entity(a, p)
            } else {
                ask_fact(a, p, cx)
            }
        }
        Kind::Metric => ask_metric(a, p),
    }
}

fn interrupted(_: PromptError) -> MartsError {
    MartsError::Interrupted
}

fn any(_: &str) -> Result<(), String> {
    Ok(())
}

/// A comma-separated answer as its non-empty items.
fn list(s: String) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

/// The model an entity or a fact is built from: picked from the project's, else typed.
fn ask_model(p: &mut dyn Prompter, known: &marts::Known) -> Result<String, MartsError> {
    let models: Vec<String> = known.names().map(str::to_string).collect();
    if models.is_empty() {
        return p
            .input("Built from which model?", None, &any)
            .map_err(interrupted);
    }
    let i = p
        .select("Built from which model?", &models, 0)
        .map_err(interrupted)?;
    Ok(models[i].clone())
}

fn ask_entity(a: &mut Entry, p: &mut dyn Prompter) -> Result<(), MartsError> {
    let guess = format!("{}_id", model::singular(&a.name));
    if a.key.is_empty() {
        a.key = list(
            p.input("Key column(s), comma-separated", Some(&guess), &any)
                .map_err(interrupted)?,
        );
    }
    if a.history.is_none() {
        let choices = vec![
            "scd1: the latest version of each key".to_string(),
            "scd2: every version (a dbt snapshot)".to_string(),
        ];
        let i = p.select("History", &choices, 0).map_err(interrupted)?;
        a.history = (i == 1).then(|| "scd2".to_string());
    }
    if a.history.as_deref() == Some("scd2") && a.updated_at.is_none() && a.check_cols.is_empty() {
        a.updated_at = Some(
            p.input(
                "Column that changes when a row changes",
                Some("updated_at"),
                &any,
            )
            .map_err(interrupted)?,
        );
    }
    Ok(())
}

fn ask_fact(a: &mut Entry, p: &mut dyn Prompter, cx: &Context) -> Result<(), MartsError> {
    let guess = format!("{}_id", model::singular(&a.name));
    if a.grain.is_empty() {
        a.grain = list(
            p.input("Grain column(s), comma-separated", Some(&guess), &any)
                .map_err(interrupted)?,
        );
    }
    if a.entities.is_none() {
        let mut chosen = Vec::new();
        for (entity, column) in propose_entities(a, cx.known, cx.current, cx.root) {
            let question = format!("Reference entity {entity} (through {column})?");
            if p.confirm(&question, true).map_err(interrupted)? {
                chosen.push(entity);
            }
        }
        a.entities = Some(chosen);
    }
    if a.measures.is_empty() {
        a.measures = list(
            p.input(
                "Measure columns, comma-separated (empty: none)",
                Some(""),
                &any,
            )
            .map_err(interrupted)?,
        );
    }
    Ok(())
}

fn ask_metric(a: &mut Entry, p: &mut dyn Prompter) -> Result<(), MartsError> {
    let kind = a.metric_type.clone().unwrap_or_else(|| "simple".into());
    if kind != "simple" && kind != "cumulative" {
        return Ok(());
    }
    if a.fact.is_none() {
        a.fact = Some(p.input("On which fact?", None, &any).map_err(interrupted)?);
    }
    if a.measure.is_none() && a.agg.is_none() {
        let m = p
            .input("Measure (empty: count rows)", Some(""), &any)
            .map_err(interrupted)?;
        if m.is_empty() {
            a.agg = Some("count".into());
        } else {
            a.measure = Some(m);
        }
    }
    Ok(())
}

//! The commit message `push` uses for the planned files.

use crate::generate::plan::file as plan;
use crate::generate::plan::file::Action;
use crate::generate::request::Input;
use crate::generate::request::Plan;
use crate::templates;
use crate::templates::env::to_value;
use crate::templates::TemplateError;
use crate::templates::Templates;

/// Render the commit message `push` uses for these planned files.
pub fn commit_message(
    templates: &Templates,
    plan: &Plan,
    input: &Input,
) -> Result<String, TemplateError> {
    let files: Vec<_> = plan
        .files
        .iter()
        .filter(|f| f.action == Action::Write)
        .map(|f| minijinja::context! { path => f.path.clone(), status => f.status.label() })
        .collect();
    let s = plan::summarize(&plan.files);
    templates.render(
        templates::COMMIT_MESSAGE,
        minijinja::context! {
            sources => plan.sources.clone(),
            files => files,
            summary => to_value(s),
            input => input.describe(),
        },
    )
}

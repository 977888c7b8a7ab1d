//! The questions the wizard can ask, behind a small trait: the wizard's flow is tested with a
//! scripted prompter (no terminal), and only a few PTY tests exercise the dialoguer one.

use std::collections::VecDeque;

use secrecy::SecretString;

/// Lists longer than this get dialoguer's type-to-filter `FuzzySelect`; shorter ones a plain
/// `Select` (a filter line on a three-item list is noise).
pub const FILTER_THRESHOLD: usize = 7;

/// Why a question got no answer.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// Ctrl-C (or Esc on a list).
    #[error("interrupted")]
    Interrupted,
    #[error("cannot read from the terminal: {0}")]
    Io(String),
}

/// Checks a typed answer; `Err` is shown and the question asked again.
pub type Check<'a> = &'a dyn Fn(&str) -> Result<(), String>;

/// One way of asking questions.
pub trait Prompter {
    /// Pick one of `items` (type to filter when the list is long); returns its index.
    fn select(
        &mut self,
        prompt: &str,
        items: &[String],
        default: usize,
    ) -> Result<usize, PromptError>;
    /// A line of text, with an optional default and a check.
    fn input(
        &mut self,
        prompt: &str,
        default: Option<&str>,
        check: Check<'_>,
    ) -> Result<String, PromptError>;
    /// A hidden line (the API token): never echoed, never kept longer than needed.
    fn secret(&mut self, prompt: &str) -> Result<SecretString, PromptError>;
    /// Yes or no.
    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool, PromptError>;
}

/// The real prompts on stderr (dialoguer), so stdout stays clean for results.
pub struct TerminalPrompter {
    theme: Box<dyn dialoguer::theme::Theme>,
}

impl TerminalPrompter {
    pub fn new(color: bool) -> Self {
        let theme: Box<dyn dialoguer::theme::Theme> = if color {
            Box::new(dialoguer::theme::ColorfulTheme::default())
        } else {
            Box::new(dialoguer::theme::SimpleTheme)
        };
        TerminalPrompter { theme }
    }
}

fn prompt_error(e: dialoguer::Error) -> PromptError {
    match e {
        dialoguer::Error::IO(io) if io.kind() == std::io::ErrorKind::Interrupted => {
            PromptError::Interrupted
        }
        dialoguer::Error::IO(io) => PromptError::Io(io.to_string()),
    }
}

impl Prompter for TerminalPrompter {
    fn select(
        &mut self,
        prompt: &str,
        items: &[String],
        default: usize,
    ) -> Result<usize, PromptError> {
        let default = default.min(items.len().saturating_sub(1));
        // Job and project names come from dbt Cloud: shown, never obeyed by the terminal.
        let items: Vec<String> = items
            .iter()
            .map(|i| crate::terminal_text::escape(i).into_owned())
            .collect();
        let picked = if items.len() > FILTER_THRESHOLD {
            dialoguer::FuzzySelect::with_theme(self.theme.as_ref())
                .with_prompt(format!("{prompt} (type to filter)"))
                .items(&items)
                .default(default)
                .max_length(10)
                .interact_opt()
        } else {
            dialoguer::Select::with_theme(self.theme.as_ref())
                .with_prompt(prompt)
                .items(&items)
                .default(default)
                .interact_opt()
        };
        // `None` is Esc/q: treated as a wish to stop, like Ctrl-C.
        picked
            .map_err(prompt_error)?
            .ok_or(PromptError::Interrupted)
    }

    fn input(
        &mut self,
        prompt: &str,
        default: Option<&str>,
        check: Check<'_>,
    ) -> Result<String, PromptError> {
        let mut input = dialoguer::Input::<String>::with_theme(self.theme.as_ref())
            .with_prompt(prompt)
            .validate_with(|s: &String| check(s.trim()));
        if let Some(d) = default {
            input = input.default(d.to_string());
        }
        input
            .interact_text()
            .map(|s| s.trim().to_string())
            .map_err(prompt_error)
    }

    fn secret(&mut self, prompt: &str) -> Result<SecretString, PromptError> {
        dialoguer::Password::with_theme(self.theme.as_ref())
            .with_prompt(prompt)
            .validate_with(|s: &String| {
                if s.trim().is_empty() {
                    Err("the token must not be empty")
                } else {
                    Ok(())
                }
            })
            .interact()
            .map(|s| SecretString::from(s.trim().to_string()))
            .map_err(prompt_error)
    }

    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool, PromptError> {
        dialoguer::Confirm::with_theme(self.theme.as_ref())
            .with_prompt(prompt)
            .default(default)
            .interact_opt()
            .map_err(prompt_error)?
            .ok_or(PromptError::Interrupted)
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// Pick the item at this index.
    Index(usize),
    /// Pick the first item containing this text.
    Containing(String),
    /// Accept the default (select, input or confirm).
    Default,
    Text(String),
    Secret(String),
    Yes,
    No,
    /// Ctrl-C.
    Interrupt,
}

/// A question as the scripted prompter saw it, for assertions on defaults and wording.
#[derive(Debug, Clone)]
pub struct Asked {
    pub prompt: String,
    /// The list items (select), empty otherwise.
    pub items: Vec<String>,
    /// The default as shown: the default item, text or yes/no.
    pub default: Option<String>,
}

/// Answers from a script, for tests of the wizard's flow. Running out of answers, or an
/// answer of the wrong kind, is reported as an I/O error naming the question.
#[derive(Debug, Default)]
pub struct ScriptedPrompter {
    answers: VecDeque<Scripted>,
    pub asked: Vec<Asked>,
}

impl ScriptedPrompter {
    pub fn new(answers: impl IntoIterator<Item = Scripted>) -> Self {
        ScriptedPrompter {
            answers: answers.into_iter().collect(),
            asked: Vec::new(),
        }
    }

    /// Answers not consumed (a test usually expects none).
    pub fn remaining(&self) -> usize {
        self.answers.len()
    }

    fn next(&mut self, asked: Asked) -> Result<Scripted, PromptError> {
        let prompt = asked.prompt.clone();
        self.asked.push(asked);
        match self.answers.pop_front() {
            Some(Scripted::Interrupt) => Err(PromptError::Interrupted),
            Some(a) => Ok(a),
            None => Err(PromptError::Io(format!(
                "no scripted answer for {prompt:?}"
            ))),
        }
    }

    fn wrong(prompt: &str, answer: &Scripted) -> PromptError {
        PromptError::Io(format!(
            "scripted answer {answer:?} does not fit {prompt:?}"
        ))
    }
}

impl Prompter for ScriptedPrompter {
    fn select(
        &mut self,
        prompt: &str,
        items: &[String],
        default: usize,
    ) -> Result<usize, PromptError> {
        let answer = self.next(Asked {
            prompt: prompt.into(),
            items: items.to_vec(),
            default: items.get(default).cloned(),
        })?;
        let picked = match &answer {
            Scripted::Index(i) if *i < items.len() => Some(*i),
            Scripted::Containing(t) => items.iter().position(|i| i.contains(t.as_str())),
            Scripted::Default => Some(default),
            _ => None,
        };
        picked.ok_or_else(|| Self::wrong(prompt, &answer))
    }

    fn input(
        &mut self,
        prompt: &str,
        default: Option<&str>,
        check: Check<'_>,
    ) -> Result<String, PromptError> {
        let answer = self.next(Asked {
            prompt: prompt.into(),
            items: Vec::new(),
            default: default.map(str::to_string),
        })?;
        let text = match (&answer, default) {
            (Scripted::Text(t), _) => t.clone(),
            (Scripted::Default, Some(d)) => d.to_string(),
            _ => return Err(Self::wrong(prompt, &answer)),
        };
        check(&text).map_err(|e| PromptError::Io(format!("{prompt:?}: {e}")))?;
        Ok(text)
    }

    fn secret(&mut self, prompt: &str) -> Result<SecretString, PromptError> {
        let answer = self.next(Asked {
            prompt: prompt.into(),
            items: Vec::new(),
            default: None,
        })?;
        match answer {
            Scripted::Secret(s) => Ok(SecretString::from(s)),
            other => Err(Self::wrong(prompt, &other)),
        }
    }

    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool, PromptError> {
        let answer = self.next(Asked {
            prompt: prompt.into(),
            items: Vec::new(),
            default: Some(if default { "yes" } else { "no" }.into()),
        })?;
        match answer {
            Scripted::Yes => Ok(true),
            Scripted::No => Ok(false),
            Scripted::Default => Ok(default),
            other => Err(Self::wrong(prompt, &other)),
        }
    }
}

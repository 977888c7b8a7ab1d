//! Aligned columns for `cloud runs list` and `runs show --nodes`. Widths come from the text as
//! the terminal will show it (control characters from outside made visible first), and colour
//! is painted after padding, so escape codes never skew a column.

use crate::terminal_text;
use crate::ui::Ui;

/// How a cell is painted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    Plain,
    Good,
    Bad,
    Warn,
    Dim,
}

#[derive(Debug, Clone)]
pub struct Cell {
    text: String,
    paint: Paint,
    right: bool,
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            paint: Paint::Plain,
            right: false,
        }
    }

    pub fn paint(mut self, paint: Paint) -> Cell {
        self.paint = paint;
        self
    }

    /// Numbers line up on their last digit.
    pub fn right(mut self) -> Cell {
        self.right = true;
        self
    }
}

/// The width `text` takes once printed (escaped, one column per character).
pub fn shown_width(text: &str) -> usize {
    terminal_text::escape(text).chars().count()
}

/// How wide each column is: the widest cell seen in it.
#[derive(Debug, Clone, Default)]
pub struct Widths(Vec<usize>);

impl Widths {
    /// Widen the columns to fit `row`.
    pub fn fit(&mut self, row: &[Cell]) {
        if self.0.len() < row.len() {
            self.0.resize(row.len(), 0);
        }
        for (w, cell) in self.0.iter_mut().zip(row) {
            *w = (*w).max(shown_width(&cell.text));
        }
    }
}

/// One row as a line: `indent`, each cell padded to its column's width, two spaces between
/// columns, nothing after the last.
pub fn line(ui: &Ui, indent: &str, row: &[Cell], widths: &Widths) -> String {
    let mut line = String::from(indent);
    for (c, cell) in row.iter().enumerate() {
        let last = c + 1 == row.len();
        let width = widths.0.get(c).copied().unwrap_or(0);
        let gap = width.saturating_sub(shown_width(&cell.text));
        let padded = match (cell.right, last) {
            (true, _) => format!("{}{}", " ".repeat(gap), cell.text),
            (false, true) => cell.text.clone(),
            (false, false) => format!("{}{}", cell.text, " ".repeat(gap)),
        };
        line.push_str(&painted(ui, &padded, cell.paint));
        if !last {
            line.push_str("  ");
        }
    }
    line.trim_end().to_string()
}

/// Rows of cells as lines (see [`line`]); a `header` row, when given, is printed dim above
/// the rows.
pub fn lines(ui: &Ui, indent: &str, header: Option<&[&str]>, rows: &[Vec<Cell>]) -> Vec<String> {
    // A heading sits on its column's side: over the last digit of right-aligned numbers.
    let right = |c: usize| {
        rows.first()
            .and_then(|r| r.get(c))
            .is_some_and(|cell| cell.right)
    };
    let head: Option<Vec<Cell>> = header.map(|h| {
        h.iter()
            .enumerate()
            .map(|(c, t)| Cell {
                right: right(c),
                ..Cell::new(*t).paint(Paint::Dim)
            })
            .collect()
    });
    let all: Vec<&Vec<Cell>> = head.iter().chain(rows.iter()).collect();
    let mut widths = Widths::default();
    for row in &all {
        widths.fit(row);
    }
    all.iter()
        .map(|row| line(ui, indent, row, &widths))
        .collect()
}

/// `text` in `paint`'s colour (when the Ui paints at all).
pub fn painted(ui: &Ui, text: &str, paint: Paint) -> String {
    if text.trim().is_empty() {
        return text.to_string();
    }
    match paint {
        Paint::Plain => text.to_string(),
        Paint::Good => ui.good(text),
        Paint::Bad => ui.bad(text),
        Paint::Warn => ui.warnish(text),
        Paint::Dim => ui.dim(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_on_the_text_as_shown() {
        let ui = Ui::plain();
        let rows = vec![
            vec![Cell::new("7").right(), Cell::new("Success"), Cell::new("a")],
            vec![
                Cell::new("1234").right(),
                Cell::new("x\u{1b}y"),
                Cell::new("b"),
            ],
        ];
        let out = lines(&ui, "", Some(&["RUN", "STATUS", "CAUSE"]), &rows);
        assert_eq!(
            out,
            [
                " RUN  STATUS    CAUSE",
                "   7  Success   a",
                "1234  x\u{1b}y  b"
            ]
        );
    }
}

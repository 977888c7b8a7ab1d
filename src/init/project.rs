//! Where the wizard is: the git repository (where `datachonk.yaml` and `.gitignore` go) and
//! the dbt project inside it (`dbt_project.yml`, at the root or in a subfolder).

use std::path::{Path, PathBuf};

/// What the wizard found around the current directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The repository root (a folder holding `.git`), if any.
    pub repo_root: Option<PathBuf>,
    /// Folders holding a `dbt_project.yml`, nearest first.
    pub dbt_projects: Vec<PathBuf>,
}

/// Folders never searched for a dbt project: build output, packages, tooling.
const SKIP: &[&str] = &[
    "target",
    "dbt_packages",
    "dbt_modules",
    "node_modules",
    "logs",
];
/// How deep below the root to look (monorepos keep dbt in e.g. `analytics/dbt/`).
const MAX_DEPTH: usize = 3;

impl Workspace {
    /// Look from `cwd`: the repository root is the nearest ancestor with `.git` (a folder,
    /// or a file in worktrees and submodules); a dbt project is searched in `cwd`'s
    /// ancestors up to that root, then below the root.
    pub fn discover(cwd: &Path) -> Workspace {
        let repo_root = cwd
            .ancestors()
            .find(|d| d.join(".git").exists())
            .map(Path::to_path_buf);
        let mut dbt_projects = Vec::new();
        for dir in cwd.ancestors() {
            if dir.join("dbt_project.yml").is_file() {
                dbt_projects.push(dir.to_path_buf());
                break;
            }
            if Some(dir) == repo_root.as_deref() {
                break;
            }
        }
        if dbt_projects.is_empty() {
            let top = repo_root.as_deref().unwrap_or(cwd);
            find_below(top, 0, &mut dbt_projects);
        }
        Workspace {
            repo_root,
            dbt_projects,
        }
    }

    /// Where `datachonk.yaml` and `.gitignore` belong: the repository root, else `cwd`.
    pub fn root<'a>(&'a self, cwd: &'a Path) -> &'a Path {
        self.repo_root.as_deref().unwrap_or(cwd)
    }
}

fn find_below(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if dir.join("dbt_project.yml").is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && !SKIP.contains(&name.as_ref())
        })
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for d in dirs {
        find_below(&d, depth + 1, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_repository_and_a_dbt_project_in_a_subfolder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join("analytics/dbt")).unwrap();
        std::fs::write(root.join("analytics/dbt/dbt_project.yml"), "name: x\n").unwrap();
        std::fs::create_dir_all(root.join("analytics/dbt/dbt_packages/p")).unwrap();
        std::fs::write(
            root.join("analytics/dbt/dbt_packages/p/dbt_project.yml"),
            "",
        )
        .unwrap();
        let ws = Workspace::discover(root);
        assert_eq!(ws.repo_root.as_deref(), Some(root));
        assert_eq!(ws.dbt_projects, vec![root.join("analytics/dbt")]);

        // From inside the project, the nearest one wins.
        let ws = Workspace::discover(&root.join("analytics/dbt"));
        assert_eq!(ws.dbt_projects, vec![root.join("analytics/dbt")]);
    }

    #[test]
    fn no_repository_no_project() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::discover(dir.path());
        assert_eq!(ws.repo_root, None);
        assert!(ws.dbt_projects.is_empty());
        assert_eq!(ws.root(dir.path()), dir.path());
    }
}

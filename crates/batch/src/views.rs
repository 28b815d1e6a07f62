//! The batch views: SQL files shipped in `crates/batch/views/`, each one `SELECT`, registered in
//! order so that a view may read the views before it. A user's folder overrides a shipped view by
//! its file name and may add views of its own (after the shipped ones, in name order).

use std::path::Path;

use datafusion::sql::parser::DFParser;
use datafusion::sql::resolve::resolve_table_references;
use tributary_schema::markets::Dataset;

/// One view: its name (the file name without `.sql`), its SQL, and whether its rows are
/// published to the serving store (helpers that other views read are not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub name: String,
    pub sql: String,
    pub published: bool,
    /// Where the SQL came from: `shipped` or the user's file.
    pub origin: String,
    /// The views it reads directly (found in its SQL).
    pub depends_on: Vec<String>,
    /// The datasets it reads, directly or through the views it depends on.
    pub reads: Vec<Dataset>,
    /// The columns the serving store indexes the published table by, from a line
    /// `-- index: a, b` in the SQL's leading comment.
    pub index: Vec<String>,
}

/// The shipped views, in dependency order: (name, SQL, published).
const SHIPPED: &[(&str, &str, bool)] = &[
    ("series_daily", include_str!("../views/series_daily.sql"), true),
    ("series_catalogue", include_str!("../views/series_catalogue.sql"), true),
    ("trading_days", include_str!("../views/trading_days.sql"), false),
    ("aligned_daily", include_str!("../views/aligned_daily.sql"), true),
    ("market_series", include_str!("../views/market_series.sql"), false),
    ("covid_series", include_str!("../views/covid_series.sql"), false),
    ("correlations", include_str!("../views/correlations.sql"), true),
    ("rolling_correlations", include_str!("../views/rolling_correlations.sql"), true),
    ("reference_covid", include_str!("../views/reference_covid.sql"), true),
    ("reference_prices", include_str!("../views/reference_prices.sql"), true),
];

/// Views that cannot be loaded: a file that cannot be read, SQL that does not parse, a cycle;
/// the message names the view and where its SQL is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ViewsError(pub String);

impl From<String> for ViewsError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

/// The views: the shipped ones, with a user's folder (if any) applied, each with the views and
/// datasets it reads.
pub fn load(user_dir: Option<&Path>) -> Result<Vec<View>, ViewsError> {
    let mut views: Vec<View> = SHIPPED
        .iter()
        .map(|(name, sql, published)| View {
            name: name.to_string(),
            sql: sql.to_string(),
            published: *published,
            origin: "shipped".into(),
            depends_on: Vec::new(),
            reads: Vec::new(),
            index: Vec::new(),
        })
        .collect();
    if let Some(dir) = user_dir {
        apply_user_folder(&mut views, dir)?;
    }
    resolve_dependencies(&mut views)?;
    for v in &mut views {
        v.index = index_columns(&v.sql);
    }
    Ok(views)
}

/// The columns named by a line `-- index: a, b` in the comment that opens a view's SQL.
pub fn index_columns(sql: &str) -> Vec<String> {
    sql.lines()
        .map(str::trim)
        .take_while(|l| l.starts_with("--") || l.is_empty())
        .filter_map(|l| l.trim_start_matches('-').trim().strip_prefix("index:"))
        .flat_map(|list| {
            // Anything after the list in parentheses is a remark.
            let list = list.split_once('(').map_or(list, |(names, _)| names);
            list.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect::<Vec<_>>()
        })
        .collect()
}

fn apply_user_folder(views: &mut Vec<View>, dir: &Path) -> Result<(), ViewsError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read the views folder {}: {e}", dir.display()))?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if !valid_name(&name) {
            return Err(format!(
                "{}: a view name is letters, digits and _, starting with a letter",
                path.display()
            )
            .into());
        }
        let sql =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let origin = path.display().to_string();
        match views.iter_mut().find(|v| v.name == name) {
            Some(v) => {
                v.sql = sql;
                v.origin = origin;
            }
            None => views.push(View {
                name,
                sql,
                published: true,
                origin,
                depends_on: Vec::new(),
                reads: Vec::new(),
                index: Vec::new(),
            }),
        }
    }
    Ok(())
}

/// The tables one SQL statement reads (without its own common table expressions).
pub fn tables_read(sql: &str) -> Result<Vec<String>, ViewsError> {
    let mut statements = DFParser::parse_sql(sql).map_err(|e| e.to_string())?;
    let statement = match (statements.pop_front(), statements.is_empty()) {
        (Some(statement), true) => statement,
        _ => return Err(ViewsError("a view is exactly one SQL statement".into())),
    };
    let (relations, _ctes) = resolve_table_references(&statement, true).map_err(|e| e.to_string())?;
    Ok(relations.iter().map(|r| r.table().to_string()).collect())
}

/// Fills each view's `depends_on` and `reads` from its SQL; a cycle is an error.
fn resolve_dependencies(views: &mut [View]) -> Result<(), ViewsError> {
    let names: Vec<String> = views.iter().map(|v| v.name.clone()).collect();
    let mut direct_datasets = Vec::with_capacity(views.len());
    for v in views.iter_mut() {
        let tables = tables_read(&v.sql).map_err(|e| format!("view {} ({}): {e}", v.name, v.origin))?;
        v.depends_on = tables.iter().filter(|t| names.contains(t)).cloned().collect();
        direct_datasets.push(
            Dataset::ALL.iter().copied().filter(|d| tables.iter().any(|t| t == d.name())).collect::<Vec<_>>(),
        );
    }
    for i in 0..views.len() {
        // Depth-first over the dependencies, collecting datasets; a view met again on the
        // current path is a cycle.
        let mut reads: Vec<Dataset> = Vec::new();
        let mut stack = vec![(i, vec![i])];
        while let Some((at, path)) = stack.pop() {
            reads.extend(&direct_datasets[at]);
            for dep in &views[at].depends_on {
                let j = names.iter().position(|n| n == dep).expect("a dependency is a view");
                if path.contains(&j) {
                    let cycle: Vec<_> = path.iter().chain([&j]).map(|&k| names[k].as_str()).collect();
                    return Err(format!("views read each other in a cycle: {}", cycle.join(" → ")).into());
                }
                stack.push((j, path.iter().copied().chain([j]).collect()));
            }
        }
        reads.sort_by_key(|d| Dataset::ALL.iter().position(|x| x == d));
        reads.dedup();
        views[i].reads = reads;
    }
    Ok(())
}

/// Identifies what a view computes: a hash of its SQL and of the SQL of every view it reads,
/// directly or not. A published version made from the same definition and the same dataset
/// versions is up to date.
pub fn definition(views: &[View], name: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut closure: Vec<&View> = Vec::new();
    let mut stack: Vec<&str> = vec![name];
    while let Some(n) = stack.pop() {
        if let Some(v) = views.iter().find(|v| v.name == n)
            && !closure.iter().any(|c| c.name == n)
        {
            closure.push(v);
            stack.extend(v.depends_on.iter().map(String::as_str));
        }
    }
    closure.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hash = Sha256::new();
    for v in closure {
        hash.update(v.name.as_bytes());
        hash.update([0]);
        hash.update(v.sql.as_bytes());
        hash.update([0]);
    }
    hash.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_folder_overrides_by_name_and_adds_views() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("reference_prices.sql"), "SELECT 1 AS x").unwrap();
        std::fs::write(dir.path().join("my_view.sql"), "SELECT 2 AS y").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let views = load(Some(dir.path())).unwrap();
        let names: Vec<_> = views.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "series_daily",
                "series_catalogue",
                "trading_days",
                "aligned_daily",
                "market_series",
                "covid_series",
                "correlations",
                "rolling_correlations",
                "reference_covid",
                "reference_prices",
                "my_view"
            ]
        );
        assert_eq!(views[9].sql, "SELECT 1 AS x");
        assert!(views[9].origin.ends_with("reference_prices.sql"));
        std::fs::write(dir.path().join("bad-name.sql"), "SELECT 1").unwrap();
        assert!(load(Some(dir.path())).unwrap_err().0.contains("a view name is letters"));
        assert!(
            load(Some(&dir.path().join("missing"))).unwrap_err().0.contains("cannot read the views folder")
        );
    }

    #[test]
    fn dependencies_and_datasets_are_found_in_the_sql() {
        let views = load(None).unwrap();
        let view = |name: &str| views.iter().find(|v| v.name == name).unwrap();
        assert_eq!(view("aligned_daily").depends_on, ["series_daily", "trading_days"]);
        assert_eq!(view("aligned_daily").reads, [Dataset::CovidDaily, Dataset::Prices]);
        assert_eq!(view("reference_prices").reads, [Dataset::Prices]);
        assert!(view("series_daily").depends_on.is_empty());

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.sql"), "WITH a AS (SELECT * FROM correlations) SELECT * FROM a")
            .unwrap();
        let mine = load(Some(dir.path())).unwrap().pop().unwrap();
        assert_eq!(
            (mine.depends_on, mine.reads),
            (vec!["correlations".to_string()], vec![Dataset::CovidDaily, Dataset::Prices])
        );

        std::fs::write(dir.path().join("trading_days.sql"), "SELECT * FROM mine").unwrap();
        let error = load(Some(dir.path())).unwrap_err().0;
        assert!(error.contains("cycle") && error.contains("mine"), "{error}");
        std::fs::remove_file(dir.path().join("trading_days.sql")).unwrap();
        let shipped = load(None).unwrap();
        let mut changed = shipped.clone();
        changed[0].sql.push_str(" -- edited");
        assert_ne!(
            definition(&shipped, "aligned_daily"),
            definition(&changed, "aligned_daily"),
            "a helper it reads changed"
        );
        assert_eq!(
            definition(&shipped, "reference_prices"),
            definition(&changed, "reference_prices"),
            "series_daily is not read"
        );
        std::fs::write(dir.path().join("broken.sql"), "SELEC 1").unwrap();
        let error = load(Some(dir.path())).unwrap_err().0;
        assert!(error.starts_with("view broken (") && error.contains("broken.sql"), "{error}");
        std::fs::write(dir.path().join("broken.sql"), "SELECT 1; SELECT 2").unwrap();
        assert!(load(Some(dir.path())).unwrap_err().0.contains("exactly one SQL statement"));
    }
}

//! The batch views: SQL files shipped in `crates/batch/views/`, each one `SELECT`, registered in
//! order so that a view may read the views before it. A user's folder overrides a shipped view by
//! its file name and may add views of its own (after the shipped ones, in name order).

use std::path::Path;

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
    /// The datasets it reads, directly or through the views before it.
    pub reads: Vec<Dataset>,
}

/// The shipped views, in dependency order: (name, SQL, published, datasets read).
const SHIPPED: &[(&str, &str, bool, &[Dataset])] = &[
    ("series_daily", include_str!("../views/series_daily.sql"), false, &[Dataset::CovidDaily]),
    ("trading_days", include_str!("../views/trading_days.sql"), false, &[Dataset::Prices]),
    (
        "aligned_daily",
        include_str!("../views/aligned_daily.sql"),
        true,
        &[Dataset::CovidDaily, Dataset::Prices],
    ),
    (
        "correlations",
        include_str!("../views/correlations.sql"),
        true,
        &[Dataset::CovidDaily, Dataset::Prices],
    ),
    ("reference_covid", include_str!("../views/reference_covid.sql"), true, &[Dataset::CovidDaily]),
    ("reference_prices", include_str!("../views/reference_prices.sql"), true, &[Dataset::Prices]),
];

/// The views: the shipped ones, with a user's folder (if any) applied.
pub fn load(user_dir: Option<&Path>) -> Result<Vec<View>, String> {
    let mut views: Vec<View> = SHIPPED
        .iter()
        .map(|(name, sql, published, reads)| View {
            name: name.to_string(),
            sql: sql.to_string(),
            published: *published,
            origin: "shipped".into(),
            reads: reads.to_vec(),
        })
        .collect();
    let Some(dir) = user_dir else { return Ok(views) };
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
            ));
        }
        let sql =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let origin = path.display().to_string();
        match views.iter_mut().find(|v| v.name == name) {
            Some(v) => {
                v.sql = sql;
                v.origin = origin;
            }
            None => views.push(View { name, sql, published: true, origin, reads: Dataset::ALL.to_vec() }),
        }
    }
    Ok(views)
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
                "trading_days",
                "aligned_daily",
                "correlations",
                "reference_covid",
                "reference_prices",
                "my_view"
            ]
        );
        assert_eq!(views[5].sql, "SELECT 1 AS x");
        assert!(views[5].origin.ends_with("reference_prices.sql"));
        std::fs::write(dir.path().join("bad-name.sql"), "SELECT 1").unwrap();
        assert!(load(Some(dir.path())).unwrap_err().contains("a view name is letters"));
        assert!(
            load(Some(&dir.path().join("missing"))).unwrap_err().contains("cannot read the views folder")
        );
    }
}

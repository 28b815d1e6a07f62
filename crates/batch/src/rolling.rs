//! `rolling_correlations(x_days, x, y_days, y, windows)`: the statistics of [`crate::stats`] over
//! every window of w consecutive days of series `x` with series `y` on the same days, for each
//! size w in the list `windows`, from the two series whole, given as arrays (one row per pair of
//! series):
//!
//! ```sql
//! SELECT m.symbol, c.series,
//!        unnest(rolling_correlations(m.days, m.close, c.days, c.c7, make_array(30, 60, 90))) AS r
//! FROM market m CROSS JOIN covid c
//! ```
//!
//! The window ending at the i-th day d of `x_days` holds that day and the w − 1 days of `x_days`
//! before it, each paired with y on the same day; it is reported only when all w pairs are
//! present (`y_days` holds the day, neither value is NULL). Its pairs are in day order, so the
//! autocorrelation-adjusted inference is always there.
//!
//! The result is a list with one struct per full window, by size (in the order given) then in day
//! order: `{window_days, day, n, pearson, pearson_p, spearman, spearman_p, reason, n_eff,
//! pearson_p_adj, spearman_n_eff, spearman_p_adj}`, the `correlation` aggregate's struct with the
//! window's size and last day in front (the day as the 64-bit integer the days were given as;
//! dates are days since 1970-01-01). A NULL list gives a NULL result; a NULL size is skipped.
//! Where `y_days` holds a day more than once, the first value is used.
//!
//! The windows of x are the same for every y they meet, so what the statistics need of them
//! (ranks, autocorrelations) is computed once per call, for all the rows of a batch: all window
//! sizes are one call's work (a size per row, through a join, would give DataFusion batches of
//! one pair of series each). y's window is kept sorted as it slides (one insertion and one
//! removal per day instead of sorting every window for its ranks).

use std::any::Any;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::series::{Output, Series, SideCache, coerce_two_series, list_of, rows};
use crate::udaf::{Side, Statistics};

const NAME: &str = "rolling_correlations";

/// The largest window accepted (it bounds the work of a call).
const MAX_WINDOW: i64 = 100_000;

/// The `rolling_correlations` function, ready to register.
pub fn rolling_correlations() -> ScalarUDF {
    ScalarUDF::from(RollingCorrelations { signature: Signature::user_defined(Volatility::Immutable) })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RollingCorrelations {
    signature: Signature,
}

/// The fields in front of each element's statistics.
fn key_fields() -> Vec<Field> {
    vec![Field::new("window_days", DataType::Int32, false), Field::new("day", DataType::Int64, false)]
}

impl ScalarUDFImpl for RollingCorrelations {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn name(&self) -> &str {
        NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let usage = "rolling_correlations(x_days, x, y_days, y, windows) takes two series as lists of \
                     days (integers or dates) and lists of numbers, then a list of window sizes in days \
                     (integers)";
        let mut types = coerce_two_series(usage, arg_types)?;
        let integers = |t: &DataType| match t {
            DataType::List(f) | DataType::LargeList(f) => f.data_type().is_integer(),
            t => *t == DataType::Null,
        };
        match arg_types {
            [_, _, _, _, windows] if integers(windows) => {
                types.push(list_of(DataType::Int64));
                Ok(types)
            }
            _ => plan_err!("{usage}: got {arg_types:?}"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(Output::data_type(key_fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let lists = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(window_lists) = lists[4].as_list_opt::<i32>() else {
            return exec_err!("{NAME}: the window sizes are {}, not a list", lists[4].data_type());
        };
        let mut out = Output::new(NAME, key_fields());
        let mut x_sides = SideCache::default();
        let mut y_window = SortedWindow::default();
        for (row, series) in rows(NAME, &lists[..4])?.enumerate() {
            let (Some((x, y)), true) = (series?, window_lists.is_valid(row)) else {
                out.end_row(false)?;
                continue;
            };
            let x_id = x_sides.id(&x);
            let pairs = Pairs::on_the_same_days(&x, &y);
            let windows = cast(&window_lists.value(row), &DataType::Int64)?;
            for w in windows.as_primitive::<Int64Type>().iter().flatten() {
                if !(1..=MAX_WINDOW).contains(&w) {
                    return exec_err!("{NAME}: a window is 1 to {MAX_WINDOW} days, not {w}");
                }
                let w = w as usize;
                let x_side = |start: usize, wx: &[f64]| x_sides.side(x_id, (start, w), wx);
                pairs.windows(w, &mut y_window, x_side, |end, stats| {
                    out.push(&[w as i64, x.days[end]], stats)
                });
            }
            out.end_row(true)?;
        }
        Ok(ColumnarValue::Array(out.finish()?))
    }
}

/// x and y on each day of x (y's first value on that day, if it has one), with whether both
/// are present (a missing value is held as 0 and never read).
struct Pairs {
    x: Vec<f64>,
    y: Vec<f64>,
    present: Vec<bool>,
}

impl Pairs {
    fn on_the_same_days(x: &Series, y: &Series) -> Self {
        let mut pairs = Self { x: Vec::new(), y: Vec::new(), present: Vec::new() };
        let mut j = 0;
        for (i, &day) in x.days.iter().enumerate() {
            while j < y.len() && y.days[j] < day {
                j += 1;
            }
            let y_value = (j < y.len() && y.days[j] == day).then(|| y.value(j)).flatten();
            let (xv, yv) = (x.value(i), y_value);
            pairs.x.push(xv.unwrap_or(0.0));
            pairs.y.push(yv.unwrap_or(0.0));
            pairs.present.push(xv.is_some() && yv.is_some());
        }
        pairs
    }

    /// Calls `each(end, statistics)` for every full window of `w` days (positions
    /// `end + 1 − w ..= end`), in order, with the x side of a window from `x_side(start, values)`.
    fn windows(
        &self,
        w: usize,
        y_window: &mut SortedWindow,
        mut x_side: impl FnMut(usize, &[f64]) -> Arc<Side>,
        mut each: impl FnMut(usize, Statistics),
    ) {
        y_window.clear();
        // Days in a row, up to the current one, where both values are present.
        let mut present = 0;
        for i in 0..self.x.len() {
            if !self.present[i] {
                present = 0;
                y_window.clear();
                continue;
            }
            present += 1;
            y_window.insert(self.y[i], i);
            if present > w {
                y_window.remove(self.y[i - w], i - w);
            }
            if present < w {
                continue;
            }
            let start = i + 1 - w;
            let (wx, wy) = (&self.x[start..=i], &self.y[start..=i]);
            let side_x = x_side(start, wx);
            let side_y = Side::with_ranks(wy, || y_window.ranks(start, w));
            each(i, Statistics::of_sides(wx, wy, &side_x, &side_y));
        }
    }
}

/// A window's values with their positions, in `total_cmp` order.
#[derive(Debug, Default)]
struct SortedWindow {
    items: Vec<(f64, usize)>,
}

impl SortedWindow {
    fn clear(&mut self) {
        self.items.clear();
    }

    fn insert(&mut self, value: f64, at: usize) {
        let i = self.items.partition_point(|(v, _)| v.total_cmp(&value).is_le());
        self.items.insert(i, (value, at));
    }

    fn remove(&mut self, value: f64, at: usize) {
        let from = self.items.partition_point(|(v, _)| v.total_cmp(&value).is_lt());
        if let Some(offset) = self.items[from..].iter().position(|&(_, a)| a == at) {
            self.items.remove(from + offset);
        }
    }

    /// The 1-based rank of each position `start..start + len`, ties getting the mean of the
    /// ranks they span (as [`crate::stats::ranks`]).
    fn ranks(&self, start: usize, len: usize) -> Vec<f64> {
        let mut out = vec![0.0; len];
        let mut i = 0;
        while i < self.items.len() {
            let mut j = i + 1;
            while j < self.items.len() && self.items[j].0 == self.items[i].0 {
                j += 1;
            }
            let rank = (i + 1 + j) as f64 / 2.0;
            for &(_, at) in &self.items[i..j] {
                out[at - start] = rank;
            }
            i = j;
        }
        out
    }
}

#[cfg(test)]
mod tests;

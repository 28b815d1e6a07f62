//! `lagged_correlations(x_days, x, y_days, y, min_lag, max_lag)`: the statistics of
//! [`crate::stats`] between a series `x` and the series `y` shifted by every lag from `min_lag`
//! to `max_lag`, from the two series whole, given as arrays (one row per pair of series):
//!
//! ```sql
//! SELECT m.symbol, c.series,
//!        unnest(lagged_correlations(m.days, m.close, c.days, c.c7, -28, 28)) AS r
//! FROM market m CROSS JOIN covid c       -- each a series as arrays in day order
//! ```
//!
//! At lag L the pairs are (x(d), y(d − L)) for the days d of `x_days` where `y_days` holds d − L
//! and both values are present (not NULL), in day order: what `correlation(x, y, d)` grouped by
//! lag over a join on `y_day = d − L` computes, without one joined row per pair and lag (the
//! correlations view's 57 lags of 222 series were 3.2 M rows and 300 MB of pair lists).
//!
//! The result is a list with one struct per lag at which some day d of `x_days` meets d − L in
//! `y_days` (whether or not the values there are present; a lag where the series do not meet has
//! no element), in lag order: `{lag, n, pearson, pearson_p, spearman, spearman_p, reason, n_eff,
//! pearson_p_adj, spearman_n_eff, spearman_p_adj}`, the `correlation` aggregate's struct with the
//! lag in front. A NULL day is not used; a NULL list gives a NULL result. The days need not be
//! sorted (they are put in order, equal days keeping their order); both lags are constants.

use std::any::Any;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::series::{Output, Series, SideCache, coerce_two_series, rows};
use crate::udaf::{Side, Statistics};

const NAME: &str = "lagged_correlations";

/// The largest |lag| accepted (far beyond any series of days; it bounds the work of a call).
const MAX_ABS_LAG: i64 = 100_000;

/// The `lagged_correlations` function, ready to register.
pub fn lagged_correlations() -> ScalarUDF {
    ScalarUDF::from(LaggedCorrelations { signature: Signature::user_defined(Volatility::Immutable) })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct LaggedCorrelations {
    signature: Signature,
}

/// The first field of each element.
fn lag_field() -> Field {
    Field::new("lag", DataType::Int32, false)
}

impl ScalarUDFImpl for LaggedCorrelations {
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
        let usage = "lagged_correlations(x_days, x, y_days, y, min_lag, max_lag) takes two series as \
                     lists of days (integers or dates) and lists of numbers, then two integer lags";
        let mut types = coerce_two_series(usage, arg_types)?;
        match arg_types {
            [_, _, _, _, min_lag, max_lag] if min_lag.is_integer() && max_lag.is_integer() => {
                types.extend([DataType::Int64, DataType::Int64]);
                Ok(types)
            }
            _ => plan_err!("{usage}: got {arg_types:?}"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(Output::data_type(vec![lag_field()]))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let lag = |value: &ColumnarValue| match value {
            ColumnarValue::Scalar(ScalarValue::Int64(Some(l))) if l.abs() <= MAX_ABS_LAG => Ok(*l),
            _ => exec_err!("the lags of {NAME} must be constants within ±{MAX_ABS_LAG}"),
        };
        let (min_lag, max_lag) = (lag(&args.args[4])?, lag(&args.args[5])?);
        if min_lag > max_lag {
            return exec_err!("{NAME}: min_lag {min_lag} is greater than max_lag {max_lag}");
        }
        let lists = ColumnarValue::values_to_arrays(&args.args[..4])?;
        let mut out = Output::new(NAME, vec![lag_field()]);
        let mut pairs = PairBuffers::default();
        let mut x_sides = SideCache::default();
        for row in rows(NAME, &lists)? {
            let Some((x, y)) = row? else {
                out.end_row(false)?;
                continue;
            };
            let x_id = x_sides.id(&x);
            for lag in min_lag..=max_lag {
                let x_side = |used: &[u32], values: &[f64]| x_sides.side(x_id, used.to_vec(), values);
                if let Some(stats) = pairs.at_lag(&x, &y, lag, x_side) {
                    out.push(&[lag], stats);
                }
            }
            out.end_row(true)?;
        }
        Ok(ColumnarValue::Array(out.finish()?))
    }
}

/// The pairs of one lag, kept between lags so that their buffers are allocated once.
#[derive(Default)]
struct PairBuffers {
    x: Vec<f64>,
    y: Vec<f64>,
    /// The position in x of each pair's x value.
    used: Vec<u32>,
}

impl PairBuffers {
    /// The statistics of the pairs (x(d), y(d − lag)), or `None` where no day meets; `x_side`
    /// gives what the statistics need of the x values (`used` positions of x, `values`).
    fn at_lag(
        &mut self,
        x: &Series,
        y: &Series,
        lag: i64,
        x_side: impl FnOnce(&[u32], &[f64]) -> Arc<Side>,
    ) -> Option<Statistics> {
        self.x.clear();
        self.y.clear();
        self.used.clear();
        let mut met = false;
        // Both in day order: one pass, the position in y only moving forward.
        let mut j = 0;
        for (i, &day) in x.days.iter().enumerate() {
            let target = day - lag;
            while j < y.len() && y.days[j] < target {
                j += 1;
            }
            for k in j..y.len() {
                if y.days[k] != target {
                    break;
                }
                met = true;
                if let (Some(a), Some(b)) = (x.value(i), y.value(k)) {
                    self.x.push(a);
                    self.y.push(b);
                    self.used.push(i as u32);
                }
            }
        }
        if !met {
            return None;
        }
        let side_x = x_side(&self.used, &self.x);
        Some(Statistics::of_sides(&self.x, &self.y, &side_x, &Side::of(&self.y)))
    }
}

#[cfg(test)]
mod tests;

//! `correlation(x, y [, t])`: a DataFusion aggregate over the pairs of a group where both values
//! are present, returning a struct of every statistic of [`crate::stats`] for them:
//! `{n, pearson, pearson_p, spearman, spearman_p, reason, n_eff, pearson_p_adj, spearman_n_eff,
//! spearman_p_adj}`. Statistics that are undefined are NULL and `reason` says why. (Rolling
//! windows have [`crate::rolling`], and every lag of two whole series [`crate::lagged`].)
//!
//! The optional third argument is each pair's time (an integer or a date, such as the trading
//! day): with it the pairs are put in time order and the autocorrelation-adjusted inference is
//! computed ([`crate::stats::adjusted`]: `n_eff` and the p-values with it, for Spearman on the
//! ranks); without it those four are NULL, since pairs in no order have no autocorrelation. A
//! pair whose time is NULL is not used.
//!
//! Spearman needs all the pairs (ranks), so the state is the pairs themselves; groups are small
//! (a few hundred trading days). The aggregate has a groups accumulator (one vector of pairs per
//! group, filled straight from the input columns) for `GROUP BY`.

use std::any::Any;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Float64Builder, Int64Array, Int64Builder,
    ListBuilder, PrimitiveArray, StringArray, StructArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, TypeSignature,
    Volatility,
};

use crate::stats::{
    Adjusted, Correlation, Undefined, adjusted_from, autocorrelations, pearson, ranks, spearman,
};

/// The `correlation` aggregate, ready to register.
pub fn correlation() -> AggregateUDF {
    use DataType::{Date32, Float64, Int32, Int64};
    let with_time = |t| TypeSignature::Exact(vec![Float64, Float64, t]);
    AggregateUDF::from(CorrelationUdaf {
        signature: Signature::one_of(
            vec![
                TypeSignature::Exact(vec![Float64, Float64]),
                with_time(Int32),
                with_time(Int64),
                with_time(Date32),
            ],
            Volatility::Immutable,
        ),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CorrelationUdaf {
    signature: Signature,
}

/// The fields of the result struct.
pub(crate) fn result_fields() -> Fields {
    Fields::from(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("pearson", DataType::Float64, true),
        Field::new("pearson_p", DataType::Float64, true),
        Field::new("spearman", DataType::Float64, true),
        Field::new("spearman_p", DataType::Float64, true),
        Field::new("reason", DataType::Utf8, true),
        Field::new("n_eff", DataType::Float64, true),
        Field::new("pearson_p_adj", DataType::Float64, true),
        Field::new("spearman_n_eff", DataType::Float64, true),
        Field::new("spearman_p_adj", DataType::Float64, true),
    ])
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

/// The pairs' times as 64-bit integers (a date: days since 1970), or `None` without them.
fn times(values: &[ArrayRef]) -> Result<Option<PrimitiveArray<Int64Type>>> {
    let Some(t) = values.get(2) else { return Ok(None) };
    let t = match t.data_type() {
        DataType::Date32 => cast(&cast(t, &DataType::Int32)?, &DataType::Int64)?,
        _ => cast(t, &DataType::Int64)?,
    };
    Ok(Some(t.as_primitive::<Int64Type>().clone()))
}

impl AggregateUDFImpl for CorrelationUdaf {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn name(&self) -> &str {
        "correlation"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(result_fields()))
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PairsAccumulator { pairs: Pairs::default() }))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(format_state_name(args.name, "x"), list_of(DataType::Float64), true)),
            Arc::new(Field::new(format_state_name(args.name, "y"), list_of(DataType::Float64), true)),
            // Empty where the pairs have no times.
            Arc::new(Field::new(format_state_name(args.name, "t"), list_of(DataType::Int64), true)),
        ])
    }
    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }
    fn create_groups_accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(GroupsPairs { groups: Vec::new() }))
    }
}

/// The pairs of one group in which both values (and the time, if the aggregate has one) are
/// present.
#[derive(Debug, Default)]
struct Pairs {
    x: Vec<f64>,
    y: Vec<f64>,
    /// Each pair's time, or empty when the aggregate has no time argument.
    t: Vec<i64>,
}

impl Pairs {
    /// Appends the pair at row `i` if its values (and time) are present.
    fn push_row(
        &mut self,
        x: &Float64Array,
        y: &Float64Array,
        t: Option<&PrimitiveArray<Int64Type>>,
        i: usize,
    ) {
        if !(x.is_valid(i) && y.is_valid(i)) {
            return;
        }
        match t {
            Some(t) if t.is_valid(i) => self.t.push(t.value(i)),
            Some(_) => return,
            None => {}
        }
        self.x.push(x.value(i));
        self.y.push(y.value(i));
    }

    /// Appends the rows of a state's lists (`t` empty or as long as `x`).
    fn push_state(&mut self, x: &ArrayRef, y: &ArrayRef, t: &ArrayRef) {
        let (x, y, t) = (x.as_primitive::<Float64Type>(), y.as_primitive::<Float64Type>(), t.as_primitive());
        let t = (!t.is_empty()).then_some(t);
        for i in 0..x.len().min(y.len()) {
            self.push_row(x, y, t, i);
        }
    }

    /// The statistics of the pairs: in time order with the adjusted inference when they have
    /// times, else in the order they came.
    fn statistics(&mut self) -> Statistics {
        if self.t.len() != self.x.len() || self.t.is_empty() {
            return Statistics::unordered(&self.x, &self.y);
        }
        // Sorted by time; equal times (not expected of a series) by value, so that the result
        // never depends on the order in which partitions were merged.
        let mut order: Vec<usize> = (0..self.x.len()).collect();
        order.sort_unstable_by(|&a, &b| {
            self.t[a]
                .cmp(&self.t[b])
                .then(self.x[a].total_cmp(&self.x[b]))
                .then(self.y[a].total_cmp(&self.y[b]))
        });
        let x: Vec<f64> = order.iter().map(|&i| self.x[i]).collect();
        let y: Vec<f64> = order.iter().map(|&i| self.y[i]).collect();
        Statistics::in_time_order(&x, &y)
    }

    fn heap_size(&self) -> usize {
        (self.x.capacity() + self.y.capacity()) * std::mem::size_of::<f64>()
            + self.t.capacity() * std::mem::size_of::<i64>()
    }
}

/// The statistics of one set of pairs.
pub(crate) struct Statistics {
    n: usize,
    pearson: Result<Correlation, Undefined>,
    spearman: Result<Correlation, Undefined>,
    /// The autocorrelation-adjusted inference of each, where the pairs' time order is known.
    pearson_adjusted: Option<Adjusted>,
    spearman_adjusted: Option<Adjusted>,
}

impl Statistics {
    /// The statistics of pairs in no known order: no adjusted inference.
    pub(crate) fn unordered(x: &[f64], y: &[f64]) -> Self {
        let (pearson, spearman) = (pearson(x, y), spearman(x, y));
        Self { n: x.len(), pearson, spearman, pearson_adjusted: None, spearman_adjusted: None }
    }

    /// The statistics of pairs in time order, with the adjusted inference.
    pub(crate) fn in_time_order(x: &[f64], y: &[f64]) -> Self {
        Self::of_sides(x, y, &Side::of(x), &Side::of(y))
    }

    /// [`Self::in_time_order`] with what it needs of each series already known.
    pub(crate) fn of_sides(x: &[f64], y: &[f64], side_x: &Side, side_y: &Side) -> Self {
        if !(side_x.finite && side_y.finite) {
            // Undefined whatever the order (reported as not finite).
            return Self::unordered(x, y);
        }
        let n = x.len();
        let (pearson, spearman) = (pearson(x, y), pearson(&side_x.ranks, &side_y.ranks));
        let adjusted = |c: &Result<Correlation, Undefined>, rx: &[f64], ry: &[f64]| {
            c.as_ref().ok().map(|c| adjusted_from(c.coefficient, rx, ry, n))
        };
        Self {
            n,
            pearson_adjusted: adjusted(&pearson, &side_x.autocorrelations, &side_y.autocorrelations),
            spearman_adjusted: adjusted(
                &spearman,
                &side_x.rank_autocorrelations,
                &side_y.rank_autocorrelations,
            ),
            pearson,
            spearman,
        }
    }
}

/// What the statistics of pairs in time order need of one of their two series: whether its
/// values are all finite, their ranks, and the autocorrelations of the values and of the ranks
/// up to lag ⌊n/5⌋ (for the adjusted inference). Computed once for a series paired with many
/// others: the correlations view pairs the same trading days of a price series with every COVID
/// series.
pub(crate) struct Side {
    finite: bool,
    ranks: Vec<f64>,
    autocorrelations: Vec<f64>,
    rank_autocorrelations: Vec<f64>,
}

impl Side {
    pub(crate) fn of(values: &[f64]) -> Self {
        Self::with_ranks(values, || ranks(values))
    }

    /// [`Self::of`] with the ranks from `ranks` (called only for finite values).
    pub(crate) fn with_ranks(values: &[f64], ranks: impl FnOnce() -> Vec<f64>) -> Self {
        if !values.iter().all(|v| v.is_finite()) {
            let none = Vec::new;
            return Self {
                finite: false,
                ranks: none(),
                autocorrelations: none(),
                rank_autocorrelations: none(),
            };
        }
        let max_lag = values.len() / 5;
        let ranks = ranks();
        Self {
            finite: true,
            autocorrelations: autocorrelations(values, max_lag),
            rank_autocorrelations: autocorrelations(&ranks, max_lag),
            ranks,
        }
    }

    /// The values it holds, for bounding a cache of sides.
    pub(crate) fn len(&self) -> usize {
        self.ranks.len() + self.autocorrelations.len() + self.rank_autocorrelations.len()
    }
}

/// One struct per element; `None` is a NULL struct.
pub(crate) fn struct_array(stats: &[Option<Statistics>]) -> Result<StructArray> {
    let coefficient = |c: &Result<Correlation, Undefined>| c.as_ref().ok().map(|c| c.coefficient);
    let p_value = |c: &Result<Correlation, Undefined>| c.as_ref().ok().map(|c| c.p_value);
    let field = |f: &dyn Fn(&Statistics) -> Option<f64>| -> ArrayRef {
        Arc::new(stats.iter().map(|s| s.as_ref().and_then(f)).collect::<Float64Array>())
    };
    // Spearman can be undefined where Pearson is not (never the other way round for finite
    // data), so the reason reports the first that failed.
    let reasons: StringArray = stats
        .iter()
        .map(|s| s.as_ref().and_then(|s| s.pearson.err().or(s.spearman.err()).map(Undefined::reason)))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(stats.iter().map(|s| s.as_ref().map_or(0, |s| s.n as i64)).collect::<Int64Array>()),
        field(&|s| coefficient(&s.pearson)),
        field(&|s| p_value(&s.pearson)),
        field(&|s| coefficient(&s.spearman)),
        field(&|s| p_value(&s.spearman)),
        Arc::new(reasons),
        field(&|s| s.pearson_adjusted.map(|a| a.n_eff)),
        field(&|s| s.pearson_adjusted.map(|a| a.p_value)),
        field(&|s| s.spearman_adjusted.map(|a| a.n_eff)),
        field(&|s| s.spearman_adjusted.map(|a| a.p_value)),
    ];
    let nulls =
        stats.iter().any(Option::is_none).then(|| NullBuffer::from_iter(stats.iter().map(Option::is_some)));
    Ok(StructArray::try_new(result_fields(), columns, nulls)?)
}

/// The state of groups: the x values, the y values and the times, each a list per group.
fn state_lists<'a>(groups: impl Iterator<Item = &'a Pairs> + Clone) -> Vec<ArrayRef> {
    let list = |values: &dyn Fn(&'a Pairs) -> &'a [f64]| -> ArrayRef {
        let mut builder = ListBuilder::new(Float64Builder::new());
        for pairs in groups.clone() {
            builder.values().append_slice(values(pairs));
            builder.append(true);
        }
        Arc::new(builder.finish())
    };
    let mut times = ListBuilder::new(Int64Builder::new());
    for pairs in groups.clone() {
        times.values().append_slice(&pairs.t);
        times.append(true);
    }
    vec![list(&|p: &'a Pairs| p.x.as_slice()), list(&|p: &'a Pairs| p.y.as_slice()), Arc::new(times.finish())]
}

/// The accumulator of one group (aggregates without `GROUP BY`).
#[derive(Debug)]
struct PairsAccumulator {
    pairs: Pairs,
}

impl Accumulator for PairsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (x, y, t) = (values[0].as_primitive(), values[1].as_primitive(), times(values)?);
        for i in 0..x.len() {
            self.pairs.push_row(x, y, t.as_ref(), i);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (xs, ys, ts) =
            (states[0].as_list::<i32>(), states[1].as_list::<i32>(), states[2].as_list::<i32>());
        for i in 0..xs.len() {
            if xs.is_valid(i) && ys.is_valid(i) && ts.is_valid(i) {
                self.pairs.push_state(&xs.value(i), &ys.value(i), &ts.value(i));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        state_lists(std::iter::once(&self.pairs))
            .iter()
            .map(|list| ScalarValue::try_from_array(list, 0))
            .collect()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let array = struct_array(&[Some(self.pairs.statistics())])?;
        ScalarValue::try_from_array(&array, 0)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.pairs.heap_size()
    }
}

/// The accumulator of many groups (`GROUP BY`): one [`Pairs`] per group index.
#[derive(Debug)]
struct GroupsPairs {
    groups: Vec<Pairs>,
}

impl GroupsPairs {
    /// Makes room for `total_num_groups` groups.
    fn grow(&mut self, total_num_groups: usize) {
        if self.groups.len() < total_num_groups {
            self.groups.resize_with(total_num_groups, Pairs::default);
        }
    }
}

/// Whether row `i` passes the aggregate's filter (`FILTER (WHERE …)`), if there is one.
fn selected(filter: Option<&BooleanArray>, i: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(i) && f.value(i))
}

impl GroupsAccumulator for GroupsPairs {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let (x, y, t) = (values[0].as_primitive(), values[1].as_primitive(), times(values)?);
        self.grow(total_num_groups);
        for (i, &group) in group_indices.iter().enumerate() {
            if selected(opt_filter, i) {
                self.groups[group].push_row(x, y, t.as_ref(), i);
            }
        }
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let (xs, ys, ts) =
            (values[0].as_list::<i32>(), values[1].as_list::<i32>(), values[2].as_list::<i32>());
        self.grow(total_num_groups);
        for (i, &group) in group_indices.iter().enumerate() {
            if selected(opt_filter, i) && xs.is_valid(i) && ys.is_valid(i) && ts.is_valid(i) {
                self.groups[group].push_state(&xs.value(i), &ys.value(i), &ts.value(i));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let mut groups = emit_to.take_needed(&mut self.groups);
        let stats: Vec<_> = groups.iter_mut().map(|g| Some(g.statistics())).collect();
        Ok(Arc::new(struct_array(&stats)?))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let groups = emit_to.take_needed(&mut self.groups);
        Ok(state_lists(groups.iter()))
    }

    fn size(&self) -> usize {
        self.groups.capacity() * std::mem::size_of::<Pairs>()
            + self.groups.iter().map(Pairs::heap_size).sum::<usize>()
    }
}

#[cfg(test)]
pub(crate) mod tests;

//! `correlation(x, y)`: a DataFusion aggregate over the pairs of a group where both values are
//! present, returning a struct of every statistic of [`crate::stats`] for them:
//! `{n, pearson, pearson_p, spearman, spearman_p, reason}`. Statistics that are undefined are
//! NULL and `reason` says why. (Rolling windows have their own window function,
//! [`crate::udwf`].)
//!
//! Spearman needs all the pairs (ranks), so the state is the pairs themselves; groups are small
//! (a few hundred trading days). The aggregate has a groups accumulator (one vector of pairs per
//! group, filled straight from the input columns) for `GROUP BY`.

use std::any::Any;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Float64Builder, Int64Array, ListBuilder,
    StringArray, StructArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use crate::stats::{Correlation, Undefined, pearson, spearman};

/// The `correlation` aggregate, ready to register.
pub fn correlation() -> AggregateUDF {
    AggregateUDF::from(CorrelationUdaf {
        signature: Signature::exact(vec![DataType::Float64, DataType::Float64], Volatility::Immutable),
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
    ])
}

fn list_of_f64() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
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
            Arc::new(Field::new(format_state_name(args.name, "x"), list_of_f64(), true)),
            Arc::new(Field::new(format_state_name(args.name, "y"), list_of_f64(), true)),
        ])
    }
    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }
    fn create_groups_accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(GroupsPairs { groups: Vec::new() }))
    }
}

/// The pairs of one group in which both values are present.
#[derive(Debug, Default)]
struct Pairs {
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Pairs {
    fn push(&mut self, x: f64, y: f64) {
        self.x.push(x);
        self.y.push(y);
    }

    /// Appends the rows of `x` and `y` where both are valid.
    fn push_arrays(&mut self, x: &ArrayRef, y: &ArrayRef) {
        let (x, y) = (x.as_primitive::<Float64Type>(), y.as_primitive::<Float64Type>());
        for i in 0..x.len().min(y.len()) {
            if x.is_valid(i) && y.is_valid(i) {
                self.push(x.value(i), y.value(i));
            }
        }
    }

    fn heap_size(&self) -> usize {
        (self.x.capacity() + self.y.capacity()) * std::mem::size_of::<f64>()
    }
}

/// The statistics of one set of pairs.
pub(crate) struct Statistics {
    n: usize,
    pearson: Result<Correlation, Undefined>,
    spearman: Result<Correlation, Undefined>,
}

impl Statistics {
    pub(crate) fn of(x: &[f64], y: &[f64]) -> Self {
        Self { n: x.len(), pearson: pearson(x, y), spearman: spearman(x, y) }
    }

    /// The same, with the ranks of `x` and `y` already known (finite values only).
    pub(crate) fn from_ranks(x: &[f64], y: &[f64], rank_x: &[f64], rank_y: &[f64]) -> Self {
        Self { n: x.len(), pearson: pearson(x, y), spearman: pearson(rank_x, rank_y) }
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
    ];
    let nulls =
        stats.iter().any(Option::is_none).then(|| NullBuffer::from_iter(stats.iter().map(Option::is_some)));
    Ok(StructArray::try_new(result_fields(), columns, nulls)?)
}

/// The state of groups: the x values and the y values, each a list per group.
fn state_lists<'a>(groups: impl Iterator<Item = &'a Pairs> + Clone) -> Vec<ArrayRef> {
    let list = |values: &dyn Fn(&'a Pairs) -> &'a [f64]| -> ArrayRef {
        let mut builder = ListBuilder::new(Float64Builder::new());
        for pairs in groups.clone() {
            builder.values().append_slice(values(pairs));
            builder.append(true);
        }
        Arc::new(builder.finish())
    };
    vec![list(&|p: &'a Pairs| p.x.as_slice()), list(&|p: &'a Pairs| p.y.as_slice())]
}

/// The accumulator of one group (aggregates without `GROUP BY`).
#[derive(Debug)]
struct PairsAccumulator {
    pairs: Pairs,
}

impl Accumulator for PairsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.pairs.push_arrays(&values[0], &values[1]);
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (xs, ys) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for i in 0..xs.len() {
            if xs.is_valid(i) && ys.is_valid(i) {
                self.pairs.push_arrays(&xs.value(i), &ys.value(i));
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
        let array = struct_array(&[Some(Statistics::of(&self.pairs.x, &self.pairs.y))])?;
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
        let (x, y) = (values[0].as_primitive::<Float64Type>(), values[1].as_primitive::<Float64Type>());
        self.grow(total_num_groups);
        for (i, &group) in group_indices.iter().enumerate() {
            if selected(opt_filter, i) && x.is_valid(i) && y.is_valid(i) {
                self.groups[group].push(x.value(i), y.value(i));
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
        let (xs, ys) = (values[0].as_list::<i32>(), values[1].as_list::<i32>());
        self.grow(total_num_groups);
        for (i, &group) in group_indices.iter().enumerate() {
            if selected(opt_filter, i) && xs.is_valid(i) && ys.is_valid(i) {
                self.groups[group].push_arrays(&xs.value(i), &ys.value(i));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let groups = emit_to.take_needed(&mut self.groups);
        let stats: Vec<_> = groups.iter().map(|g| Some(Statistics::of(&g.x, &g.y))).collect();
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

//! `correlation(x, y)`: a DataFusion aggregate over the pairs of a group where both values are
//! present, returning a struct of every statistic of [`crate::stats`] for them:
//! `{n, pearson, pearson_p, spearman, spearman_p, reason}`. Statistics that are undefined are
//! NULL and `reason` says why. Spearman needs all the pairs (ranks), so the accumulator keeps
//! them; groups are small (a few hundred trading days).

use std::any::Any;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, ListArray, StringArray, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

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

fn result_fields() -> Fields {
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
        Ok(Box::new(Pairs::default()))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(format_state_name(args.name, "x"), list_of_f64(), true)),
            Arc::new(Field::new(format_state_name(args.name, "y"), list_of_f64(), true)),
        ])
    }
}

/// The pairs seen so far, both values present.
#[derive(Debug, Default)]
struct Pairs {
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Pairs {
    fn push_arrays(&mut self, x: &ArrayRef, y: &ArrayRef) {
        let (x, y) = (x.as_primitive::<Float64Type>(), y.as_primitive::<Float64Type>());
        for i in 0..x.len().min(y.len()) {
            if x.is_valid(i) && y.is_valid(i) {
                self.x.push(x.value(i));
                self.y.push(y.value(i));
            }
        }
    }
}

fn list(values: &[f64]) -> ScalarValue {
    let array = ListArray::from_iter_primitive::<Float64Type, _, _>([Some(values.iter().map(|v| Some(*v)))]);
    ScalarValue::List(Arc::new(array))
}

impl Accumulator for Pairs {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.push_arrays(&values[0], &values[1]);
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (xs, ys) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for i in 0..xs.len() {
            if xs.is_valid(i) && ys.is_valid(i) {
                self.push_arrays(&xs.value(i), &ys.value(i));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![list(&self.x), list(&self.y)])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let (p, s) = (pearson(&self.x, &self.y), spearman(&self.x, &self.y));
        let value = |c: &Result<Correlation, Undefined>| c.as_ref().ok().map(|c| c.coefficient);
        let p_value = |c: &Result<Correlation, Undefined>| c.as_ref().ok().map(|c| c.p_value);
        // Spearman can be undefined where Pearson is not (never the other way round for finite
        // data), so the reason reports the first that failed.
        let reason = p.err().or(s.err()).map(Undefined::reason);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![self.x.len() as i64])),
            Arc::new(Float64Array::from(vec![value(&p)])),
            Arc::new(Float64Array::from(vec![p_value(&p)])),
            Arc::new(Float64Array::from(vec![value(&s)])),
            Arc::new(Float64Array::from(vec![p_value(&s)])),
            Arc::new(StringArray::from(vec![reason])),
        ];
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(result_fields(), columns, None)?)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + (self.x.capacity() + self.y.capacity()) * std::mem::size_of::<f64>()
    }
}

//! `benjamini_hochberg(p) OVER (PARTITION BY …)`: the Benjamini–Hochberg q-value of each row's
//! p-value among the p-values of its partition ([`crate::stats::benjamini_hochberg`]), so that a
//! published table controls its false discovery rate per family of tests:
//!
//! ```sql
//! SELECT *, benjamini_hochberg(pearson_p_adj) OVER (PARTITION BY measure, kind) AS pearson_q
//! FROM correlations
//! ```
//!
//! NULL p-values are not tests: they get NULL and do not count in m. The window's order and frame
//! do not matter (every row sees its whole partition).

use std::any::Any;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::Result;
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl};

use crate::stats::benjamini_hochberg;

/// The `benjamini_hochberg` window function, ready to register.
pub fn q_value() -> WindowUDF {
    WindowUDF::from(BenjaminiHochberg {
        signature: Signature::exact(vec![DataType::Float64], Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct BenjaminiHochberg {
    signature: Signature,
}

impl WindowUDFImpl for BenjaminiHochberg {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn name(&self) -> &str {
        "benjamini_hochberg"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn field(&self, args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(args.name(), DataType::Float64, true)))
    }
    fn partition_evaluator(&self, _args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(WholePartition))
    }
}

/// Evaluates a whole partition at once: q-values depend on every p-value in it.
#[derive(Debug)]
struct WholePartition;

impl PartitionEvaluator for WholePartition {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let p: Vec<Option<f64>> = values[0].as_primitive::<Float64Type>().iter().collect();
        Ok(Arc::new(Float64Array::from(benjamini_hochberg(&p))))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, Float64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::Schema;
    use datafusion::prelude::SessionContext;

    use super::*;

    #[tokio::test]
    async fn q_values_are_computed_per_partition_whatever_the_row_order() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Utf8, false),
            Field::new("p", DataType::Float64, true),
        ]));
        let g = StringArray::from(vec!["a", "b", "a", "a", "b", "a"]);
        let p = Float64Array::from(vec![Some(0.25), Some(0.5), None, Some(0.0625), Some(0.01), Some(0.125)]);
        let batch = RecordBatch::try_new(schema, vec![Arc::new(g), Arc::new(p)]).unwrap();
        let ctx = SessionContext::new();
        ctx.register_udwf(q_value());
        ctx.register_batch("t", batch).unwrap();
        let sql = "SELECT g, p, benjamini_hochberg(p) OVER (PARTITION BY g) AS q FROM t ORDER BY g, p";
        let mut got = Vec::new();
        for b in ctx.sql(sql).await.unwrap().collect().await.unwrap() {
            let (g, q) = (b.column(0).as_string::<i32>(), b.column(2).as_primitive::<Float64Type>());
            for i in 0..b.num_rows() {
                got.push((g.value(i).to_string(), q.is_valid(i).then(|| q.value(i))));
            }
        }
        // a: 0.0625, 0.125, 0.25 of m = 3 (the NULL is no test): 0.1875, 0.1875, 0.25.
        // b: 0.01, 0.5 of m = 2: min(0.02, 0.5) = 0.02, then 0.5.
        let want = [
            ("a", Some(0.1875)),
            ("a", Some(0.1875)),
            ("a", Some(0.25)),
            ("a", None),
            ("b", Some(0.02)),
            ("b", Some(0.5)),
        ];
        let want: Vec<(String, Option<f64>)> = want.iter().map(|(g, q)| (g.to_string(), *q)).collect();
        assert_eq!(got, want);
    }
}

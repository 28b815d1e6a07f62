//! What the functions over two whole series share ([`crate::lagged`]: every lag,
//! [`crate::rolling`]: every rolling window): the series as a call receives them (a list of days
//! and a list of values per row), the type rules of those arguments, the cache of one series'
//! [`Side`]s, and the result column (a list of structs per row: a key such as the lag or the
//! window's last day, then the `correlation` aggregate's statistics).
//!
//! Taking the series whole is what makes the views fast: the statistics of a price series at a
//! lag or in a window are the same for each of the 222 COVID series it meets there, so they are
//! computed once per call, not once per joined row.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListArray, StructArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Float64Type, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};

use crate::udaf::{Side, Statistics, result_fields, struct_array};

/// A list type with nullable items.
pub(crate) fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

/// The types two series are taken as, `(x_days, x, y_days, y)` first among `arg_types`: days as
/// lists of 64-bit integers (from integers or dates), values as lists of doubles (from any
/// number). `usage` opens the message of a call that does not fit.
pub(crate) fn coerce_two_series(usage: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    let item = |t: &DataType| match t {
        DataType::List(f) | DataType::LargeList(f) => Some(f.data_type().clone()),
        _ => None,
    };
    // A NULL (of type Null) stands for a NULL list.
    let days = |t: &DataType| {
        *t == DataType::Null
            || item(t).is_some_and(|i| i.is_integer() || i == DataType::Date32 || i == DataType::Null)
    };
    let values =
        |t: &DataType| *t == DataType::Null || item(t).is_some_and(|i| i.is_numeric() || i == DataType::Null);
    match arg_types {
        [x_days, x, y_days, y, ..] if days(x_days) && values(x) && days(y_days) && values(y) => {
            let (days, values) = (list_of(DataType::Int64), list_of(DataType::Float64));
            Ok(vec![days.clone(), values.clone(), days, values])
        }
        _ => plan_err!("{usage}: got {arg_types:?}"),
    }
}

/// One series: its days in order with the value of each (`None` where NULL).
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct Series {
    pub(crate) days: Vec<i64>,
    /// The values' bits (hashable, and equal only where the values are the same bits).
    values: Vec<Option<u64>>,
}

impl Series {
    /// The series of one row: `days` and `values` as [`coerce_two_series`] makes them. A NULL
    /// day is not used; days out of order are put in order (equal days keep theirs). `name`
    /// (`x` or `y`) names the series in an error.
    pub(crate) fn from_lists(function: &str, name: &str, days: &ArrayRef, values: &ArrayRef) -> Result<Self> {
        // The arguments were coerced to these types; cast anyway where a caller's were not.
        let (days, values) = (cast(days, &DataType::Int64)?, cast(values, &DataType::Float64)?);
        let (days, values) = (days.as_primitive::<Int64Type>(), values.as_primitive::<Float64Type>());
        if days.len() != values.len() {
            return exec_err!(
                "{function}: {name}_days has {} elements and {name} {}",
                days.len(),
                values.len()
            );
        }
        let mut points: Vec<(i64, Option<u64>)> =
            days.iter().zip(values.iter()).filter_map(|(d, v)| Some((d?, v.map(f64::to_bits)))).collect();
        if !points.is_sorted_by_key(|p| p.0) {
            points.sort_by_key(|p| p.0);
        }
        let (days, values) = points.into_iter().unzip();
        Ok(Self { days, values })
    }

    /// The value on the `i`-th day, if present.
    pub(crate) fn value(&self, i: usize) -> Option<f64> {
        self.values[i].map(f64::from_bits)
    }

    pub(crate) fn len(&self) -> usize {
        self.days.len()
    }
}

/// The [`Side`]s of the x series of one call, by x series and a key `K` saying which of its
/// values they are of (the positions the pairs of a lag use; a window's first position and
/// length). Bounded: it only saves work.
pub(crate) struct SideCache<K> {
    ids: HashMap<Series, usize>,
    sides: HashMap<(usize, K), Arc<Side>>,
    /// The values the two maps hold.
    held: usize,
}

impl<K> Default for SideCache<K> {
    fn default() -> Self {
        Self { ids: HashMap::new(), sides: HashMap::new(), held: 0 }
    }
}

impl<K: Hash + Eq> SideCache<K> {
    /// About 32 MB.
    const MAX_HELD: usize = 4 << 20;

    /// The id of series x (equal series, equal ids), taken at the start of a row: where the
    /// cache holds too much, it starts afresh here (never within a row, whose x keeps its id).
    pub(crate) fn id(&mut self, x: &Series) -> usize {
        if self.held > Self::MAX_HELD {
            *self = Self::default();
        }
        if let Some(&id) = self.ids.get(x) {
            return id;
        }
        let id = self.ids.len();
        self.held += 2 * x.len();
        self.ids.insert(Series { days: x.days.clone(), values: x.values.clone() }, id);
        id
    }

    /// The side of `values`, which are the values `key` of series `x_id`.
    pub(crate) fn side(&mut self, x_id: usize, key: K, values: &[f64]) -> Arc<Side> {
        let key = (x_id, key);
        if let Some(side) = self.sides.get(&key) {
            return side.clone();
        }
        let side = Arc::new(Side::of(values));
        if self.held <= Self::MAX_HELD {
            self.held += side.len() + values.len();
            self.sides.insert(key, side.clone());
        }
        side
    }
}

/// The result column being built: per row, a list of `{<keys…>, n, pearson, …}`.
pub(crate) struct Output {
    function: &'static str,
    /// The fields in front of the statistics (integer types), with their values.
    keys: Vec<(Field, Vec<i64>)>,
    stats: Vec<Option<Statistics>>,
    offsets: Vec<i32>,
    valid: Vec<bool>,
}

impl Output {
    /// An empty result whose elements start with the fields `keys` (integer types).
    pub(crate) fn new(function: &'static str, keys: Vec<Field>) -> Self {
        let keys = keys.into_iter().map(|k| (k, Vec::new())).collect();
        Self { function, keys, stats: Vec::new(), offsets: vec![0], valid: Vec::new() }
    }

    /// The result's type for elements that start with `keys`.
    pub(crate) fn data_type(keys: Vec<Field>) -> DataType {
        list_of(DataType::Struct(Self::element_fields(keys)))
    }

    fn element_fields(keys: Vec<Field>) -> Fields {
        let mut fields: Vec<_> = keys.into_iter().map(Arc::new).collect();
        fields.extend(result_fields().iter().cloned());
        Fields::from(fields)
    }

    /// Adds an element to the current row: one value per key field, then the statistics.
    pub(crate) fn push(&mut self, keys: &[i64], stats: Statistics) {
        for ((_, values), key) in self.keys.iter_mut().zip(keys) {
            values.push(*key);
        }
        self.stats.push(Some(stats));
    }

    /// Ends the current row (a NULL list where not `valid`).
    pub(crate) fn end_row(&mut self, valid: bool) -> Result<()> {
        let Ok(end) = i32::try_from(self.stats.len()) else {
            return exec_err!("{}: more than {} results in one batch", self.function, i32::MAX);
        };
        self.offsets.push(end);
        self.valid.push(valid);
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<ArrayRef> {
        let fields = Self::element_fields(self.keys.iter().map(|(f, _)| f.clone()).collect());
        let (_, statistics, _) = struct_array(&self.stats)?.into_parts();
        let mut columns = Vec::with_capacity(fields.len());
        for (field, values) in self.keys {
            columns.push(cast(&Int64Array::from(values), field.data_type())?);
        }
        columns.extend(statistics);
        let elements = StructArray::try_new(fields.clone(), columns, None)?;
        let field = Arc::new(Field::new_list_field(DataType::Struct(fields), true));
        let nulls = self.valid.contains(&false).then(|| NullBuffer::from(self.valid));
        let offsets = OffsetBuffer::new(self.offsets.into());
        Ok(Arc::new(ListArray::try_new(field, offsets, Arc::new(elements), nulls)?))
    }
}

/// The rows of a call's four series arguments: `None` where one of them is NULL.
pub(crate) fn rows<'a>(
    function: &'static str,
    lists: &'a [ArrayRef],
) -> Result<impl Iterator<Item = Result<Option<(Series, Series)>>> + 'a> {
    let list = |i: usize| match lists[i].as_list_opt::<i32>() {
        Some(list) => Ok(list),
        None => exec_err!("{function}: argument {} is {}, not a list", i + 1, lists[i].data_type()),
    };
    let (x_days, x, y_days, y) = (list(0)?, list(1)?, list(2)?, list(3)?);
    Ok((0..x_days.len()).map(move |row| {
        if [x_days, x, y_days, y].iter().any(|l| l.is_null(row)) {
            return Ok(None);
        }
        Ok(Some((
            Series::from_lists(function, "x", &x_days.value(row), &x.value(row))?,
            Series::from_lists(function, "y", &y_days.value(row), &y.value(row))?,
        )))
    }))
}

// `llcpress query RESULTS.h5`: rows of one table of results.h5, filtered by
// conditions on columns, projected to some columns, printed as an aligned
// table, CSV or JSON.
#pragma once

#include <string>
#include <vector>

#include "io/hdf5.h"

namespace llcpress {

// One condition "column OP value", OP one of = == != < <= > >=. String columns
// accept = and != only; numeric columns compare as numbers.
struct RowCondition {
  std::string column, op, value;
};

// Parses "model=pythia-70m step>=1000 method=quant" (conditions separated by
// spaces or commas). ConfigError naming --where for a malformed condition.
std::vector<RowCondition> parse_conditions(const std::string& text);

// The rows of `table` meeting every condition (ConfigError for an unknown
// column, a string compared with < or >, or a non-number against a numeric
// column), restricted to `columns` in that order (empty: all, in table order).
io::Table select_rows(const io::Table& table, const std::vector<RowCondition>& conditions,
                      const std::vector<std::string>& columns);

enum class QueryFormat { Table, Csv, Json };
QueryFormat parse_query_format(const std::string& text);

// Renders a table; NaN prints as "nan" (table, CSV) or null (JSON), numbers
// with the shortest representation that reads back to the same double.
std::string format_rows(const io::Table& table, QueryFormat format);

}  // namespace llcpress

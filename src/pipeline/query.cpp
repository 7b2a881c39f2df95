#include "pipeline/query.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"

namespace llcpress {

namespace {

std::string known_columns(const io::Table& table) {
  std::string names;
  for (const auto& column : table.columns()) names += (names.empty() ? "" : ", ") + column.name;
  return names;
}

double parse_number(const RowCondition& condition) {
  try {
    std::size_t used = 0;
    double value = std::stod(condition.value, &used);
    if (used == condition.value.size()) return value;
  } catch (const std::logic_error&) {
  }
  throw ConfigError(fmt::format("'{}' is not a number, but column '{}' is numeric", condition.value, condition.column),
                    "--where", "compare numeric columns with numbers, e.g. step>=1000");
}

bool compare(double left, const std::string& op, double right) {
  if (op == "=" || op == "==") return left == right;
  if (op == "!=") return left != right;
  if (op == "<") return left < right;
  if (op == "<=") return left <= right;
  if (op == ">") return left > right;
  return left >= right;  // ">=": parse_conditions admits nothing else
}

// Value of row i of a column as a double (numeric columns only).
double number_at(const io::ColumnValues& values, std::size_t row) {
  return std::visit(
      [row](const auto& column) -> double {
        using T = typename std::decay_t<decltype(column)>::value_type;
        if constexpr (std::is_same_v<T, std::string>)
          return std::nan("");
        else
          return static_cast<double>(column[row]);
      },
      values);
}

bool is_string_column(const io::Column& column) {
  return std::holds_alternative<std::vector<std::string>>(column.values);
}

std::string number_text(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return fmt::format("{}", value);
}

std::string cell_text(const io::Column& column, std::size_t row) {
  return std::visit(
      [row](const auto& values) -> std::string {
        using T = typename std::decay_t<decltype(values)>::value_type;
        if constexpr (std::is_same_v<T, std::string>)
          return values[row];
        else if constexpr (std::is_floating_point_v<T>)
          return number_text(static_cast<double>(values[row]));
        else
          return fmt::format("{}", static_cast<std::int64_t>(values[row]));
      },
      column.values);
}

nlohmann::json cell_json(const io::Column& column, std::size_t row) {
  return std::visit(
      [row](const auto& values) -> nlohmann::json {
        using T = typename std::decay_t<decltype(values)>::value_type;
        if constexpr (std::is_same_v<T, std::string>)
          return values[row];
        else if constexpr (std::is_floating_point_v<T>)
          return std::isfinite(values[row]) ? nlohmann::json(static_cast<double>(values[row]))
                                            : nlohmann::json(nullptr);
        else
          return static_cast<std::int64_t>(values[row]);
      },
      column.values);
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

std::vector<RowCondition> parse_conditions(const std::string& text) {
  std::vector<RowCondition> conditions;
  std::string normalised = text;
  std::replace(normalised.begin(), normalised.end(), ',', ' ');
  std::stringstream stream(normalised);
  std::string token;
  while (stream >> token) {
    const auto position = token.find_first_of("=!<>");
    LLC_CHECK(position != std::string::npos && position > 0, ConfigError, "--where",
              "write conditions as COLUMN OP VALUE with OP one of = != < <= > >=, e.g. 'model=demo-32 step>=100'",
              "'{}' is not a condition", token);
    std::size_t value_start = position + 1;
    if (value_start < token.size() && token[value_start] == '=') ++value_start;
    RowCondition condition{token.substr(0, position), token.substr(position, value_start - position),
                           token.substr(value_start)};
    static const std::vector<std::string> operators = {"=", "==", "!=", "<", "<=", ">", ">="};
    LLC_CHECK(std::find(operators.begin(), operators.end(), condition.op) != operators.end(), ConfigError, "--where",
              "operators: = != < <= > >=", "'{}' has the unknown operator '{}'", token, condition.op);
    LLC_CHECK(!condition.value.empty(), ConfigError, "--where", "give a value after the operator", "'{}' has no value",
              token);
    conditions.push_back(std::move(condition));
  }
  return conditions;
}

io::Table select_rows(const io::Table& table, const std::vector<RowCondition>& conditions,
                      const std::vector<std::string>& columns) {
  const std::size_t rows = static_cast<std::size_t>(table.num_rows());
  std::vector<char> keep(rows, 1);
  for (const auto& condition : conditions) {
    LLC_CHECK(table.has(condition.column), ConfigError, "--where", "columns: " + known_columns(table), "no column '{}'",
              condition.column);
    const io::Column& column = table.column(condition.column);
    if (is_string_column(column)) {
      LLC_CHECK(condition.op == "=" || condition.op == "==" || condition.op == "!=", ConfigError, "--where",
                "string columns compare with = or !=", "column '{}' holds text; '{}' needs numbers", condition.column,
                condition.op);
      const auto& values = std::get<std::vector<std::string>>(column.values);
      const bool equal_wanted = condition.op != "!=";
      for (std::size_t i = 0; i < rows; ++i)
        if ((values[i] == condition.value) != equal_wanted) keep[i] = 0;
    } else {
      const double value = parse_number(condition);
      for (std::size_t i = 0; i < rows; ++i)
        if (!compare(number_at(column.values, i), condition.op, value)) keep[i] = 0;
    }
  }
  std::vector<std::string> names = columns;
  if (names.empty())
    for (const auto& column : table.columns()) names.push_back(column.name);
  io::Table selected;
  for (const auto& name : names) {
    LLC_CHECK(table.has(name), ConfigError, "--columns", "columns: " + known_columns(table), "no column '{}'", name);
    const io::Column& column = table.column(name);
    io::ColumnValues values = std::visit(
        [&](const auto& all) -> io::ColumnValues {
          std::decay_t<decltype(all)> kept;
          for (std::size_t i = 0; i < rows; ++i)
            if (keep[i]) kept.push_back(all[i]);
          return kept;
        },
        column.values);
    selected.add(column.name, std::move(values), column.units, column.description);
  }
  return selected;
}

QueryFormat parse_query_format(const std::string& text) {
  if (text == "table") return QueryFormat::Table;
  if (text == "csv") return QueryFormat::Csv;
  if (text == "json") return QueryFormat::Json;
  throw ConfigError(fmt::format("unknown format '{}'", text), "--format", "use table, csv or json");
}

std::string format_rows(const io::Table& table, QueryFormat format) {
  const auto& columns = table.columns();
  const std::size_t rows = static_cast<std::size_t>(table.num_rows());
  std::string text;
  if (format == QueryFormat::Json) {
    nlohmann::json array = nlohmann::json::array();
    for (std::size_t i = 0; i < rows; ++i) {
      nlohmann::json row = nlohmann::json::object();
      for (const auto& column : columns) row[column.name] = cell_json(column, i);
      array.push_back(std::move(row));
    }
    return array.dump(2) + "\n";
  }
  if (format == QueryFormat::Csv) {
    for (std::size_t c = 0; c < columns.size(); ++c) text += (c ? "," : "") + csv_field(columns[c].name);
    text += "\n";
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t c = 0; c < columns.size(); ++c) text += (c ? "," : "") + csv_field(cell_text(columns[c], i));
      text += "\n";
    }
    return text;
  }
  std::vector<std::size_t> widths;
  for (const auto& column : columns) {
    std::size_t width = column.name.size();
    for (std::size_t i = 0; i < rows; ++i) width = std::max(width, cell_text(column, i).size());
    widths.push_back(width);
  }
  for (std::size_t c = 0; c < columns.size(); ++c)
    text += fmt::format("{}{:<{}}", c ? "  " : "", columns[c].name, widths[c]);
  text += "\n";
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t c = 0; c < columns.size(); ++c) {
      const std::string cell = cell_text(columns[c], i);
      if (is_string_column(columns[c]))
        text += fmt::format("{}{:<{}}", c ? "  " : "", cell, widths[c]);
      else
        text += fmt::format("{}{:>{}}", c ? "  " : "", cell, widths[c]);
    }
    text += "\n";
  }
  text += fmt::format("({} rows)\n", rows);
  return text;
}

}  // namespace llcpress

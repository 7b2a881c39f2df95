// Column tables: one group, one 1-D dataset per column (see io/hdf5.h).
#include <algorithm>

#include "core/check.h"
#include "io/hdf5.h"
#include "io/schema.h"

namespace llcpress::io {

namespace {

std::string_view alternative_name(const ColumnValues& values) {
  return std::visit(
      [](const auto& vector) { return element_name<typename std::decay_t<decltype(vector)>::value_type>(); }, values);
}

// The in-memory type a stored column reads into without loss (see Dataset::element_type).
ColumnValues read_column(const Dataset& dataset) {
  const std::string stored = dataset.element_type();
  if (stored == "float64") return dataset.read<double>().values;
  if (stored == "float32" || stored == "float16") return dataset.read<float>().values;
  if (stored == "int8" || stored == "int16" || stored == "int32") return dataset.read<std::int32_t>().values;
  if (stored == "int64" || stored == "uint16" || stored == "uint32") return dataset.read<std::int64_t>().values;
  if (stored == "uint8") return dataset.read<std::uint8_t>().values;
  if (stored == "string") return dataset.read<std::string>().values;
  LLC_THROW(IoError, dataset.where(), "table columns hold float32/64, int8-64, uint8-32 or strings",
            "column of type {} cannot be read", stored);
}

}  // namespace

std::int64_t Column::size() const {
  return std::visit([](const auto& vector) { return static_cast<std::int64_t>(vector.size()); }, values);
}

Table& Table::add(std::string name, ColumnValues values, std::string units, std::string description) {
  LLC_CHECK(!name.empty() && name.find('/') == std::string::npos && name != "." && name != "..", InputError,
            "table column '" + name + "'", "use a plain name such as \"critical_fraction\"",
            "column names must be non-empty and contain no '/'");
  LLC_CHECK(!has(name), InputError, "table column '" + name + "'", "give each column its own name",
            "the table has this column already");
  Column column{std::move(name), std::move(values), std::move(units), std::move(description)};
  LLC_CHECK(columns_.empty() || column.size() == num_rows(), InputError, "table column '" + column.name + "'",
            "every column of a table has one value per row", "has {} values but the table has {} rows", column.size(),
            num_rows());
  columns_.push_back(std::move(column));
  return *this;
}

bool Table::has(std::string_view name) const {
  return std::any_of(columns_.begin(), columns_.end(), [&](const Column& column) { return column.name == name; });
}

const Column& Table::column(std::string_view name) const {
  for (const Column& column : columns_)
    if (column.name == name) return column;
  std::string names;
  for (const Column& column : columns_) names += (names.empty() ? "" : ", ") + column.name;
  LLC_THROW(InputError, fmt::format("table column '{}'", name), "columns are: " + names, "no such column");
}

std::map<std::string, ColumnValues> Table::column_map() const {
  std::map<std::string, ColumnValues> map;
  for (const Column& column : columns_) map.emplace(column.name, column.values);
  return map;
}

void Table::throw_column_type_mismatch(const Column& column, std::string_view requested) {
  LLC_THROW(InputError, fmt::format("table column '{}'", column.name), "ask for the type the column holds",
            "holds {} values, not {}", alternative_name(column.values), requested);
}

void write_table(Group& parent, std::string_view name, const Table& table, std::string_view description) {
  Group group = parent.create_group(name);
  std::vector<std::string> names, units;
  for (const Column& column : table.columns()) {
    names.push_back(column.name);
    units.push_back(column.units);
    DatasetOptions options{column.units, column.description, Compression::Automatic};
    std::visit([&](const auto& values) { group.write(column.name, values, options); }, column.values);
  }
  group.set_attribute(attribute_name::layout, "table");
  group.set_attribute(attribute_name::table_columns, std::span<const std::string>(names));
  group.set_attribute(attribute_name::table_column_units, std::span<const std::string>(units));
  group.set_attribute(attribute_name::table_num_rows, table.num_rows());
  if (!description.empty()) group.set_attribute(attribute_name::description, description);
}

Table read_table(const Group& parent, std::string_view name) {
  Group group = parent.open_group(name);
  LLC_CHECK(group.has_attribute(attribute_name::table_columns), IoError, group.where(),
            "write tables with io::write_table (docs/hdf5-schema.md, Tables)",
            "not a table: the group has no '{}' attribute", attribute_name::table_columns);
  const auto names = group.attribute<std::vector<std::string>>(attribute_name::table_columns);
  Table table;
  for (const std::string& column_name : names) {
    LLC_CHECK(group.is_dataset(column_name), IoError, group.where(column_name),
              "the 'columns' attribute names a dataset per column", "column listed but not stored");
    Dataset dataset = group.open_dataset(column_name);
    LLC_CHECK(dataset.shape().size() == 1, IoError, dataset.where(), "table columns are 1-D", "column has rank {}",
              dataset.shape().size());
    std::string units = dataset.has_attribute(attribute_name::units)
                            ? dataset.attribute<std::string>(attribute_name::units)
                            : std::string();
    std::string description = dataset.has_attribute(attribute_name::description)
                                  ? dataset.attribute<std::string>(attribute_name::description)
                                  : std::string();
    ColumnValues values = read_column(dataset);
    try {
      table.add(column_name, std::move(values), std::move(units), std::move(description));
    } catch (const InputError& error) {
      // A stored table with unequal columns is a broken file, not a bad argument.
      LLC_THROW(IoError, dataset.where(), "rewrite the table", "{}", error.message());
    }
  }
  if (group.has_attribute(attribute_name::table_num_rows)) {
    const auto rows = group.attribute<std::int64_t>(attribute_name::table_num_rows);
    LLC_CHECK(names.empty() || rows == table.num_rows(), IoError, group.where(), "rewrite the table",
              "'num_rows' says {} but the columns hold {}", rows, table.num_rows());
  }
  return table;
}

}  // namespace llcpress::io

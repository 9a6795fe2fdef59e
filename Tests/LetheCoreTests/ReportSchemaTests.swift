import Foundation
import LetheCore
import Testing

extension ReportTests {
    @Suite("Report JSON schema")
    struct Schema {
        /// docs/report-schema.json is a product file, not a fixture: found from this
        /// source file's place in the package (as PolicyExampleTests finds policies/).
        static func schema() throws -> JSONValue {
            let url = URL(fileURLWithPath: #filePath)
                .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("docs/report-schema.json")
            return try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: url))
        }

        static func json(_ report: ComplianceReport) throws -> JSONValue {
            try JSONDecoder().decode(JSONValue.self, from: Data(try report.render(.json).utf8))
        }

        @Test("the schema is draft 2020-12, for lethe.report/v1, and requires every top-level key the report writes")
        func schemaHeader() throws {
            let schema = try Self.schema()
            #expect(schema["$schema"] == .string("https://json-schema.org/draft/2020-12/schema"))
            #expect(schema["properties"]?["schema"]?["const"] == .string(ComplianceReport.schemaIdentifier))
            guard case .object(let report) = try Self.json(ReportFixture.report),
                  case .array(let required) = schema["required"] else {
                Issue.record("not objects")
                return
            }
            #expect(Set(required.compactMap(\.string)) == Set(report.keys))
        }

        @Test("the JSON form is valid against docs/report-schema.json", arguments: [ReportFixture.report, ReportFixture.empty])
        func valid(report: ComplianceReport) throws {
            let errors = SchemaChecker(root: try Self.schema()).errors(in: try Self.json(report))
            #expect(errors == [])
        }

        @Test("the checker finds a missing key, a wrong type, an unknown key and a bad date")
        func checkerWorks() throws {
            let checker = SchemaChecker(root: try Self.schema())
            guard case .object(var json) = try Self.json(ReportFixture.report) else { return }
            json["sweeps"] = nil
            json["generatedAt"] = .string("3 December 2026")
            json["extra"] = .bool(true)
            if case .object(var outcomes) = json["outcomes"] {
                outcomes["completed"] = .number(1.5)
                json["outcomes"] = .object(outcomes)
            }
            #expect(checker.errors(in: .object(json)) == [
                "$: unexpected key 'extra'",
                "$: missing key 'sweeps'",
                "$.generatedAt: does not match ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
                "$.outcomes.completed: expected integer",
            ])
        }
    }
}

/// A JSON value, with integers kept apart from other numbers.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var values: [JSONValue] = []
            while !array.isAtEnd { values.append(try array.decode(JSONValue.self)) }
            self = .array(values)
            return
        }
        if let object = try? decoder.container(keyedBy: Key.self) {
            var values: [String: JSONValue] = [:]
            for key in object.allKeys { values[key.stringValue] = try object.decode(JSONValue.self, forKey: key) }
            self = .object(values)
            return
        }
        let value = try decoder.singleValueContainer()
        if value.decodeNil() { self = .null }
        else if let bool = try? value.decode(Bool.self) { self = .bool(bool) }
        else if let integer = try? value.decode(Int.self) { self = .integer(integer) }
        else if let number = try? value.decode(Double.self) { self = .number(number) }
        else { self = .string(try value.decode(String.self)) }
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var string: String? {
        if case .string(let string) = self { return string }
        return nil
    }
}

/// Just enough of JSON Schema 2020-12 for docs/report-schema.json: `$ref` (local),
/// `type`, `const`, `enum`, `required`, `properties`, `additionalProperties`, `items`,
/// `minimum` and `pattern`. Unknown keywords (`format`, `description`) are ignored.
struct SchemaChecker {
    let root: JSONValue

    func errors(in value: JSONValue) -> [String] {
        var errors: [String] = []
        check(value, against: root, at: "$", into: &errors)
        return errors
    }

    private func resolve(_ schema: JSONValue) -> JSONValue {
        guard let reference = schema["$ref"]?.string else { return schema }
        var target = root
        for part in reference.dropFirst(2).split(separator: "/") { target = target[String(part)] ?? .null }
        return target
    }

    private func check(_ value: JSONValue, against schema: JSONValue, at path: String, into errors: inout [String]) {
        let schema = resolve(schema)
        if let expected = schema["const"], expected != value { errors.append("\(path): expected \(expected)") }
        if case .array(let options) = schema["enum"], !options.contains(value) { errors.append("\(path): not one of the allowed values") }
        if let type = schema["type"]?.string, !matches(value, type) {
            errors.append("\(path): expected \(type)")
            return
        }
        if case .integer(let minimum) = schema["minimum"], case .integer(let integer) = value, integer < minimum {
            errors.append("\(path): below \(minimum)")
        }
        if let pattern = schema["pattern"]?.string, case .string(let text) = value,
           text.range(of: pattern, options: .regularExpression) == nil {
            errors.append("\(path): does not match \(pattern)")
        }
        if case .object(let object) = value {
            let properties: [String: JSONValue] = if case .object(let p) = schema["properties"] { p } else { [:] }
            for key in object.keys.sorted() {
                // Declared properties are checked below, after the object's own errors.
                if properties[key] != nil { continue }
                switch schema["additionalProperties"] {
                case .bool(false)?: errors.append("\(path): unexpected key '\(key)'")
                case let additional?: check(object[key]!, against: additional, at: "\(path).\(key)", into: &errors)
                case nil: break
                }
            }
            if case .array(let required) = schema["required"] {
                for key in required.compactMap(\.string).sorted() where object[key] == nil {
                    errors.append("\(path): missing key '\(key)'")
                }
            }
            for key in object.keys.sorted() {
                if let property = properties[key] { check(object[key]!, against: property, at: "\(path).\(key)", into: &errors) }
            }
        }
        if case .array(let items) = value, let itemSchema = schema["items"] {
            for (index, item) in items.enumerated() { check(item, against: itemSchema, at: "\(path)[\(index)]", into: &errors) }
        }
    }

    private func matches(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("integer", .integer), ("number", .integer), ("number", .number),
             ("string", .string), ("array", .array), ("object", .object): true
        default: false
        }
    }
}

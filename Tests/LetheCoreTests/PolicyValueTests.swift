import BSON
import Foundation
import LetheCore
import Testing

/// YAML scalars become the BSON types a reader expects, so that `where` matches
/// what its author meant.
@Suite("Policy: typed values in set and where")
struct PolicyValueTests {
    static func setValues(_ lines: String) -> PolicyLoadResult {
        PolicyTestSupport.load(PolicyTestSupport.policy(rule: """
              - collection: c
                match: m
                action: anonymize
                pseudonymize: [m]
                set:
            \(lines)
            """))
    }

    @Test("scalars, lists and mappings in set become typed BSON, in file order")
    func typedScalars() throws {
        let result = Self.setValues("""
                  n: null
                  tilde: ~
                  empty:
                  t: true
                  f: False
                  small: 42
                  negative: -7
                  big: 3000000000
                  huge: 99999999999999999999
                  pi: 3.25
                  exp: 1e3
                  inf: -.inf
                  quoted: "123"
                  single: 'true'
                  quotedNull: "null"
                  text: Deleted user
                  block: |
                    two
                    lines
                  tagged: !!str 123
                  list: [1, "2", x, null]
                  nested: { b: { c: 1 }, a: 2 }
            """)
        #expect(result.diagnostics.map(\.description) == [])
        let policy = try #require(result.policies.first)
        guard case .anonymize(let changes) = policy.rules[0].action else {
            Issue.record("expected anonymize, got \(policy.rules[0].action)")
            return
        }
        let expected: BSONDocument = [
            "n": .null, "tilde": .null, "empty": .null, "t": .bool(true), "f": .bool(false), "small": .int32(42),
            "negative": .int32(-7), "big": .int64(3_000_000_000), "huge": .double(1e20), "pi": .double(3.25),
            "exp": .double(1000), "inf": .double(-.infinity), "quoted": .string("123"), "single": .string("true"),
            "quotedNull": .string("null"), "text": .string("Deleted user"), "block": .string("two\nlines\n"),
            "tagged": .string("123"), "list": [.int32(1), .string("2"), .string("x"), .null],
            "nested": .document(["b": ["c": 1], "a": 2]),
        ]
        #expect(changes.set == expected)
        #expect(changes.set.keys == expected.keys, "order kept")
        #expect(changes.changedFields == expected.keys + ["m"])
    }

    @Test("$oid, $date and $uuid wrappers become ObjectId, datetime and UUID binary")
    func wrappers() throws {
        let result = Self.setValues("""
                  oid: { $oid: 65a1f0c2e4b0a1b2c3d4e5f6 }
                  at: { $date: "2024-01-31T10:00:00.250Z" }
                  offset: { $date: "2024-01-31T12:00:00+02:00" }
                  day: { $date: 2024-01-31 }
                  epoch: { $date: 0 }
                  uuid: { $uuid: 123e4567-e89b-12d3-a456-426614174000 }
            """)
        #expect(result.diagnostics.map(\.description) == [])
        guard case .anonymize(let changes) = try #require(result.policies.first).rules[0].action else {
            Issue.record("expected anonymize")
            return
        }
        #expect(changes.set["oid"] == .objectId(try #require(BSONObjectId("65a1f0c2e4b0a1b2c3d4e5f6"))))
        #expect(changes.set["at"] == .datetime(BSONDatetime(millisecondsSinceEpoch: 1_706_695_200_250)))
        #expect(changes.set["offset"] == .datetime(BSONDatetime(millisecondsSinceEpoch: 1_706_695_200_000)))
        #expect(changes.set["day"] == .datetime(BSONDatetime(millisecondsSinceEpoch: 1_706_659_200_000)))
        #expect(changes.set["epoch"] == .datetime(BSONDatetime(millisecondsSinceEpoch: 0)))
        let uuid = try #require(UUID(uuidString: "123e4567-e89b-12d3-a456-426614174000"))
        #expect(changes.set["uuid"] == .binary(BSONBinary(uuid: uuid)))
        if case .binary(let binary) = changes.set["uuid"] {
            #expect(binary.subtype == 4)
            #expect(binary.data.count == 16)
        }
    }

    @Test("invalid wrapper values are errors with the expected form", arguments: [
        ("{ $oid: 65a1f0c2 }", "'65a1f0c2' is not an ObjectId", "24 hexadecimal digits"),
        ("{ $date: \"2024-01-31T10:00:00\" }", "'2024-01-31T10:00:00' is not a date",
         "an ISO-8601 date-time with a time zone, a date (UTC midnight), or milliseconds since 1970"),
        ("{ $date: [1] }", "wrong type: found a list",
         "an ISO-8601 date-time with a time zone, a date (UTC midnight), or milliseconds since 1970"),
        ("{ $uuid: not-a-uuid }", "'not-a-uuid' is not a UUID", "a UUID such as 123e4567-e89b-12d3-a456-426614174000"),
        ("{ $oid: 65a1f0c2e4b0a1b2c3d4e5f6, x: 1 }", "field name '$oid' starts with '$'",
         "field names without '$', or a single { $oid }, { $date } or { $uuid }"),
        ("{ a.b: 1 }", "field name 'a.b' contains '.'", "field names without dots inside a value"),
        ("!custom 1", "unsupported YAML tag '!custom'", "a plain value, or !!str"),
    ])
    func badWrappers(value: String, message: String, expected: String) {
        let result = Self.setValues("      v: \(value)")
        #expect(result.errors.map(\.message) == [message])
        #expect(result.errors.first?.expected == expected)
        #expect(result.errors.first?.line == 10)
    }

    @Test("in where, a quoted \"123\" stays a string and a plain 123 is a number")
    func whereTypes() throws {
        let result = PolicyTestSupport.load(PolicyTestSupport.policy(rule: """
              - collection: c
                match: m
                action: delete
                where: { code: "123", count: 123, shared: true, label: 'true', gone: null, ratio: 0.5 }

            """))
        #expect(result.diagnostics.map(\.description) == [])
        let scope = try #require(result.policies.first?.rules[0].scope)
        #expect(scope == [
            "code": .string("123"), "count": .int32(123), "shared": .bool(true), "label": .string("true"),
            "gone": .null, "ratio": .double(0.5),
        ])
    }

    @Test("plain yes/no and plain dates are text, with a warning that quoting silences")
    func ambiguousText() {
        let rule = """
              - collection: c
                match: m
                action: delete
                where: { shared: yes, since: 2024-01-01, quiet: 'no', day: "2024-01-01" }

            """
        let result = PolicyTestSupport.load(PolicyTestSupport.policy(rule: rule))
        #expect(!result.hasErrors)
        #expect(result.policies.first?.rules[0].scope?["shared"] == .string("yes"))
        #expect(result.policies.first?.rules[0].scope?["since"] == .string("2024-01-01"))
        #expect(result.diagnostics.map(\.description) == [
            "p.yaml:8:22: warning: rules[0].where.shared: 'yes' is the text \"yes\", not a boolean; expected true or "
                + "false for a boolean (hint: write true or false, or quote the value to keep the text and silence "
                + "this warning)",
            "p.yaml:8:34: warning: rules[0].where.since: '2024-01-01' is text, not a date; expected { $date: \"…\" } "
                + "for a date (hint: MongoDB compares dates only with dates; write `{ $date: \"2024-01-01\" }`, or "
                + "quote the value to keep the text and silence this warning)",
        ])
    }
}

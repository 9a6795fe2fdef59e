import BSON
import Crypto
import Foundation

/// The normalized text a policy's fingerprint is the hash of.
///
/// It holds every value that changes what the policy does, with defaults filled
/// in, and nothing else: no comments, layout, key order, descriptions, file names
/// or line numbers. Sets (match paths, the paths of `unset`/`hash`/`pseudonymize`,
/// the top-level keys of `set` and `where`) are sorted; rule order is kept, since
/// rules on one collection run in order. BSON values carry their type, so a
/// quoted `"1"` and a number `1` differ.
enum PolicyCanonicalForm {
    static func fingerprint(
        version: Int, name: String, database: String, subject: SubjectSpec,
        deadline: PolicyDuration, maxDocumentsPerRequest: Int,
        rules: [ErasureRule], retention: [RetentionRule], users: UsersSpec? = nil, tombstones: TombstoneSpec? = nil,
        lookups: [LookupSpec] = [], maxLookupValues: Int = Policy.defaultMaxLookupValues
    ) -> String {
        let text = render(
            version: version, name: name, database: database, subject: subject, deadline: deadline,
            maxDocumentsPerRequest: maxDocumentsPerRequest, rules: rules, retention: retention, users: users,
            tombstones: tombstones, lookups: lookups, maxLookupValues: maxLookupValues
        )
        let digest = SHA256.hash(data: Data(text.utf8))
        let hex = digest.lowercaseHex
        return "sha256:" + hex.prefix(16)
    }

    static func render(
        version: Int, name: String, database: String, subject: SubjectSpec,
        deadline: PolicyDuration, maxDocumentsPerRequest: Int,
        rules: [ErasureRule], retention: [RetentionRule], users: UsersSpec? = nil, tombstones: TombstoneSpec? = nil,
        lookups: [LookupSpec] = [], maxLookupValues: Int = Policy.defaultMaxLookupValues
    ) -> String {
        var lines = [
            "lethe-policy-canonical 1",
            "version \(version)",
            "name \(quote(name))",
            "database \(quote(database))",
            "subject idType=\(subject.idType.rawValue) includeIdentities=\(subject.includeIdentities)",
            "deadline \(deadline)",
            "maxDocumentsPerRequest \(maxDocumentsPerRequest)",
        ]
        // Identifiers, lookups and `using` only when written, so that the fingerprints
        // of policies without them stay as they were.
        if !subject.identifiers.isEmpty { lines.append("identifiers \(list(subject.identifiers))") }
        if !lookups.isEmpty { lines.append("maxLookupValues \(maxLookupValues)") }
        for lookup in lookups {
            lines.append(
                "lookup name=\(quote(lookup.name)) collection=\(quote(lookup.collection)) match=\(list(lookup.match)) "
                    + "using=\(list(lookup.using)) where=\(filter(lookup.scope)) field=\(quote(lookup.field))"
            )
        }
        for rule in rules {
            let using = rule.using == [MatchSource.user] ? "" : " using=\(list(rule.using))"
            lines.append(
                "rule collection=\(quote(rule.collection)) match=\(list(rule.match)) where=\(filter(rule.scope)) "
                    + "action=\(action(rule.action))" + using
            )
        }
        for rule in retention {
            lines.append(
                "retention collection=\(quote(rule.collection)) field=\(quote(rule.field)) "
                    + "olderThan=\(rule.olderThan) where=\(filter(rule.scope)) action=\(action(rule.action))"
            )
        }
        // Only when given, so that the fingerprints of policies without it stay as they were.
        if let users {
            lines.append(
                "users database=\(quote(users.database ?? database)) collection=\(quote(users.collection)) "
                    + "field=\(quote(users.field)) identities=\(users.identities.map(quote) ?? "none") grace=\(users.effectiveGrace)"
                    + (users.created.map { " created=\(quote($0))" } ?? "")
            )
        }
        if let tombstones {
            lines.append("tombstones keep=\(tombstones.effectiveKeep)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func action(_ action: RuleAction) -> String {
        switch action {
        case .delete, .pull:
            return action.name
        case .anonymize(let changes):
            return "anonymize(set=\(sortedDocument(changes.set)) unset=\(list(changes.unset)) "
                + "hash=\(list(changes.hash)) pseudonymize=\(list(changes.pseudonymize)))"
        case .retain(let retention):
            var out = "retain(reason=\(quote(retention.reason))"
            if let until = retention.until { out += " until=\(quote(until.field))+\(until.after)" }
            if let then = retention.then { out += " then=\(self.action(then))" }
            return out + ")"
        }
    }

    private static func filter(_ scope: BSONDocument?) -> String {
        scope.map(sortedDocument) ?? "none"
    }

    private static func list(_ paths: [String]) -> String {
        "[" + paths.sorted().map(quote).joined(separator: ",") + "]"
    }

    /// Top-level keys sorted (they are independent paths or ANDed conditions);
    /// nested documents keep their order, which MongoDB compares exactly.
    private static func sortedDocument(_ document: BSONDocument) -> String {
        let fields = document.sorted { $0.key < $1.key }
        return "{" + fields.map { "\(quote($0.key)):\(value($0.value))" }.joined(separator: ",") + "}"
    }

    static func value(_ value: BSON) -> String {
        switch value {
        case .double(let d): "double(\(d))"
        case .string(let s): "string(\(quote(s)))"
        case .document(let d): "{" + d.map { "\(quote($0.key)):\(Self.value($0.value))" }.joined(separator: ",") + "}"
        case .array(let a): "[" + a.map(Self.value).joined(separator: ",") + "]"
        case .binary(let b): "binary(\(b.subtype),\(b.data.lowercaseHex))"
        case .undefined: "undefined"
        case .objectId(let o): "objectId(\(o.hex))"
        case .bool(let b): "bool(\(b))"
        case .datetime(let d): "date(\(d.millisecondsSinceEpoch))"
        case .null: "null"
        case .regex(let r): "regex(\(quote(r.pattern)),\(quote(r.options)))"
        case .javascript(let s): "javascript(\(quote(s)))"
        case .symbol(let s): "symbol(\(quote(s)))"
        case .int32(let i): "int32(\(i))"
        case .timestamp(let t): "timestamp(\(t.timestamp),\(t.increment))"
        case .int64(let i): "int64(\(i))"
        case .decimal128(let d): "decimal128(\(d.high),\(d.low))"
        case .minKey: "minKey"
        case .maxKey: "maxKey"
        }
    }

    /// A double-quoted string with `"`, `\` and control characters escaped.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

import BSON
import Foundation
@testable import LetheCore
import Testing

extension EventTests {
    @Suite("Refusals: a stable code, the field, and a message without any value from the event")
    struct Refusals {
        typealias F = EventFixtures

        static let plain = "a plain id of 1 to 256 bytes (UTF-8) of printable characters without spaces, quotes, braces or brackets, not starting with '$'"
        static let time = #"an ISO-8601 date-time with a time zone (2024-05-01T12:00:00.000Z), {"$date": that text}, {"$date": {"$numberLong": milliseconds since 1970}} or a BSON date"#

        /// An App Services DELETE with `user` replaced by `user` (raw JSON) and `time` by `time`.
        static func appServices(user: String, time: String = #""2024-11-23T01:07:20.123Z""#) -> String {
            #"{"operationType": "DELETE", "user": \#(user), "time": \#(time)}"#
        }

        /// A CloudEvents user.deleted with `data` replaced.
        static func cloudEvent(data: String) -> String {
            #"{"specversion": "1.0", "id": "e1", "source": "/auth", "type": "user.deleted", "data": \#(data)}"#
        }

        struct Case: Sendable, CustomTestStringConvertible {
            let json: String
            let code: String
            let field: String?
            let message: String
            var testDescription: String { "\(code) \(field ?? "-")" }
        }

        static let cases: [Case] = [
            // missing-field
            Case(json: appServices(user: #"{"identities": []}"#), code: "missing-field", field: "user.id",
                 message: "user.id is missing; expected the deleted user's id"),
            Case(json: appServices(user: #"{"id": ""}"#), code: "missing-field", field: "user.id",
                 message: "user.id is empty; expected the deleted user's id"),
            Case(json: appServices(user: #"{"id": null}"#), code: "missing-field", field: "user.id",
                 message: "user.id is null; expected the deleted user's id"),
            Case(json: #"{"operationType": "DELETE", "time": "2024-11-23T01:07:20Z"}"#, code: "missing-field", field: "user",
                 message: "user is missing; expected the deleted user: an object with id and identities"),
            Case(json: #"{"operationType": "DELETE", "user": {"id": "u1"}}"#, code: "missing-field", field: "time",
                 message: "time is missing; expected the time of the event: \(time)"),
            Case(json: appServices(user: #"{"id": "u1", "identities": [{"provider_type": "local-userpass"}]}"#), code: "missing-field",
                 field: "user.identities[0].id", message: "user.identities[0].id is missing; expected the identity's id"),
            Case(json: cloudEvent(data: #"{"identities": ["a"]}"#), code: "missing-field", field: "data.userId",
                 message: "data.userId is missing; expected the deleted user's id"),
            Case(json: #"{"specversion": "1.0", "id": "e1", "source": "/auth", "type": "user.deleted", "data_base64": "e30="}"#,
                 code: "missing-field", field: "data", message: "data is missing; expected an object with userId and identities (data_base64 is not accepted)"),
            Case(json: #"{"specversion": "1.0", "source": "/auth", "type": "user.deleted"}"#, code: "missing-field", field: "id",
                 message: "id is missing; expected the event's id, unique for its source"),
            Case(json: #"{"specversion": "1.0", "id": "e1", "source": "", "type": "user.deleted"}"#, code: "missing-field", field: "source",
                 message: "source is empty; expected the event's source (a URI reference)"),
            Case(json: #"{"specversion": "1.0", "id": "e1", "source": "/auth"}"#, code: "missing-field", field: "type",
                 message: "type is missing; expected a CloudEvents type such as user.deleted"),
            Case(json: #"{"specversion": null}"#, code: "missing-field", field: "specversion",
                 message: #"specversion is null; expected "1.0""#),
            // not-plain-id
            Case(json: appServices(user: #"{"id": {"$ne": ""}}"#), code: "not-plain-id", field: "user.id",
                 message: "user.id is an object; expected \(plain), as a string"),
            Case(json: appServices(user: #"{"id": ["ada.lovelace@example.com"]}"#), code: "not-plain-id", field: "user.id",
                 message: "user.id is an array; expected \(plain), as a string"),
            Case(json: appServices(user: #"{"id": 6560}"#), code: "not-plain-id", field: "user.id",
                 message: "user.id is a number; expected \(plain), as a string"),
            Case(json: appServices(user: #"{"id": "Ada Lovelace"}"#), code: "not-plain-id", field: "user.id",
                 message: "user.id contains whitespace or control characters; expected \(plain)"),
            Case(json: appServices(user: #"{"id": "{\"$ne\":\"\"}"}"#), code: "not-plain-id", field: "user.id",
                 message: "user.id contains JSON or query syntax (quotes, braces or brackets); expected \(plain)"),
            Case(json: appServices(user: #"{"id": "$where"}"#), code: "not-plain-id", field: "user.id",
                 message: "user.id starts with '$', like a query operator; expected \(plain)"),
            Case(json: appServices(user: #"{"id": "u1", "identities": [{"id": "i1"}, {"id": "ada lovelace@example.com"}]}"#), code: "not-plain-id",
                 field: "user.identities[1].id", message: "user.identities[1].id contains whitespace or control characters; expected \(plain)"),
            Case(json: cloudEvent(data: #"{"userId": "u1", "identities": ["i1", 42]}"#), code: "not-plain-id", field: "data.identities[1]",
                 message: "data.identities[1] is a number; expected \(plain), as a string"),
            Case(json: cloudEvent(data: #"{"userId": "u1", "identities": [{"id": {"$gt": ""}}]}"#), code: "not-plain-id",
                 field: "data.identities[0].id", message: "data.identities[0].id is an object; expected \(plain), as a string"),
            Case(json: #"{"specversion": "1.0", "id": "e\u0000", "source": "/auth", "type": "user.deleted"}"#, code: "not-plain-id", field: "id",
                 message: "id contains control characters; expected the event's id, unique for its source, of at most 1024 bytes (UTF-8) without control characters"),
            // wrong-type
            Case(json: appServices(user: #""ada.lovelace@example.com""#), code: "wrong-type", field: "user",
                 message: "user is a string; expected the deleted user: an object with id and identities"),
            Case(json: appServices(user: #"{"id": "u1", "identities": {"id": "i1"}}"#), code: "wrong-type", field: "user.identities",
                 message: "user.identities is an object; expected an array of identities"),
            Case(json: cloudEvent(data: #""{\"userId\": \"u1\"}""#), code: "wrong-type", field: "data",
                 message: "data is a string; expected an object with userId and identities (data_base64 is not accepted)"),
            Case(json: #"{"specversion": 1.0}"#, code: "wrong-type", field: "specversion",
                 message: #"specversion is a number; expected the string "1.0""#),
            Case(json: #"{"operationType": 3}"#, code: "wrong-type", field: "operationType",
                 message: "operationType is a number; expected an App Services operation type such as DELETE, as a string"),
            Case(json: #"{"specversion": "1.0", "id": 7, "source": "/auth", "type": "user.deleted"}"#, code: "wrong-type", field: "id",
                 message: "id is a number; expected the event's id, unique for its source, as a string"),
            // too-many-identities
            Case(json: appServices(user: #"{"id": "u1", "identities": [\#((0...100).map { "\"i\($0)\"" }.joined(separator: ","))]}"#),
                 code: "too-many-identities", field: "user.identities",
                 message: "user.identities has more than 100 entries; expected at most 100 identities per event"),
            // bad-time
            Case(json: appServices(user: #"{"id": "u1"}"#, time: #""yesterday""#), code: "bad-time", field: "time",
                 message: "time is not a valid date-time; expected \(time)"),
            Case(json: appServices(user: #"{"id": "u1"}"#, time: #""2024-11-23T01:07:20""#), code: "bad-time", field: "time",
                 message: "time is not a valid date-time; expected \(time)"),
            Case(json: appServices(user: #"{"id": "u1"}"#, time: #""2023-02-29T00:00:00Z""#), code: "bad-time", field: "time",
                 message: "time is not a valid date-time; expected \(time)"),
            Case(json: appServices(user: #"{"id": "u1"}"#, time: #"{"$date": {"$numberLong": "soon"}}"#), code: "bad-time", field: "time",
                 message: "time is not a valid date-time; expected \(time)"),
            Case(json: appServices(user: #"{"id": "u1"}"#, time: "1732324040123"), code: "bad-time", field: "time",
                 message: "time is a number; expected \(time)"),
            Case(json: #"{"specversion": "1.0", "id": "e1", "source": "/auth", "type": "user.deleted", "time": "tomorrow", "data": {"userId": "u1"}}"#,
                 code: "bad-time", field: "time", message: "time is not a valid date-time; expected \(time)"),
            // unknown-shape
            Case(json: #"{"event": "user.deleted", "userId": "u1"}"#, code: "unknown-shape", field: nil,
                 message: "the object is neither an App Services authentication event nor a CloudEvent; expected operationType and user (App Services) or specversion, id, source and type (CloudEvents 1.0)"),
            Case(json: #""ada.lovelace@example.com""#, code: "unknown-shape", field: nil,
                 message: "the event is a string; expected a JSON object: an App Services authentication event or a CloudEvent"),
            Case(json: #"{"operationType": "DELETE ada.lovelace@example.com"}"#, code: "unknown-shape", field: "operationType",
                 message: "operationType is not a plain name; expected an App Services operation type such as DELETE (letters, digits and . _ - : / + only, at most 128 characters)"),
            Case(json: #"{"specversion": "1.0", "id": "e1", "source": "/auth", "type": "user deleted"}"#, code: "unknown-shape", field: "type",
                 message: "type is not a plain name; expected a CloudEvents type such as user.deleted (letters, digits and . _ - : / + only, at most 128 characters)"),
            // undeclared-identifier: no policy declares `phone` (the value is never repeated)
            Case(json: cloudEvent(data: #"{"userId": "u1", "identifiers": {"phone": "5550100"}}"#), code: "undeclared-identifier",
                 field: "data.identifiers",
                 message: "data.identifiers holds identifier 'phone', which no policy declares; expected no identifiers: no policy declares any (subject.identifiers)"),
            Case(json: cloudEvent(data: #"{"userId": "u1", "identifiers": {"ada@example.com": "x"}}"#), code: "undeclared-identifier",
                 field: "data.identifiers",
                 message: "data.identifiers holds an identifier whose name is not a plain name, which no policy declares; expected no identifiers: no policy declares any (subject.identifiers)"),
            // unsupported-specversion
            Case(json: #"{"specversion": "0.3", "id": "e1", "source": "/auth", "type": "user.deleted"}"#, code: "unsupported-specversion",
                 field: "specversion", message: #"specversion is not "1.0"; expected a CloudEvents 1.0 event (specversion "1.0")"#),
        ]

        @Test("each refusal has its code, field and exact message", arguments: cases)
        func refusal(_ expected: Case) throws {
            let refusal = try F.refusal(expected.json)
            #expect(refusal.code == expected.code)
            #expect(refusal.field == expected.field)
            #expect(refusal.message == expected.message)
            #expect(refusal.location == nil)
            #expect(refusal.description == "\(expected.message) [\(expected.code)]")
        }

        @Test("every code is covered by a case, and the codes are the documented ones")
        func codes() {
            #expect(EventRefusal.Reason.all.map(\.code) == [
                "missing-field", "wrong-type", "not-plain-id", "too-many-identities", "undeclared-identifier", "bad-time",
                "unknown-shape", "unsupported-specversion", "oversized", "bad-json",
            ])
            let covered = Set(Self.cases.map(\.code)).union(["oversized", "bad-json"])  // see Bodies
            #expect(Set(EventRefusal.Reason.all.map(\.code)) == covered)
        }

        @Test("a refusal never holds a value from the event", arguments: cases)
        func noValues(_ expected: Case) throws {
            let refusal = try F.refusal(expected.json)
            let shown = F.everythingShown(refusal) + F.everythingShown(ParsedEvent.refused(refusal))
            for value in ["ada", "Lovelace", "$ne", "$gt", "$where", "6560", "yesterday", "tomorrow", "soon", "0.3", "e1", "/auth", "u1", "i1"] {
                #expect(!shown.contains(value), "\(value) shown")
            }
        }

        @Test("100 identities are accepted")
        func hundredIdentities() throws {
            let ids = (0..<100).map { "i\($0)" }
            let event = try F.accepted(Self.appServices(user: #"{"id": "u1", "identities": [\#(ids.map { "\"\($0)\"" }.joined(separator: ","))]}"#))
            #expect(event.subject?.identities == ids)
        }

        @Test("the identity limit is an option")
        func identityLimit() throws {
            let refusal = try F.refusal(F.cloudEvent(), options: .init(maximumIdentities: 1))
            #expect(refusal.message == "data.identities has more than 1 entries; expected at most 1 identities per event")
        }

        @Test("an inbox document is refused the same way, with BSON types named")
        func documentRefusals() throws {
            let parser = DeletionEventParser()
            let objectId: BSONDocument = ["operationType": "DELETE", "user": ["id": .objectId(BSONObjectId())], "time": .datetime(BSONDatetime(millisecondsSinceEpoch: 0))]
            #expect(parser.parse(document: objectId).refusal?.message == "user.id is a BSON objectId; expected \(Self.plain), as a string")
            let numberTime: BSONDocument = ["operationType": "DELETE", "user": ["id": "u1"], "time": .int64(1_732_324_040_123)]
            #expect(parser.parse(document: numberTime).refusal?.message == "time is a number; expected \(Self.time)")
            let hostile: BSONDocument = ["operationType": "DELETE", "user": ["id": ["$ne": ""]], "time": .datetime(BSONDatetime(millisecondsSinceEpoch: 0))]
            #expect(parser.parse(document: hostile).refusal?.code == "not-plain-id")
        }

        @Test("an IntakeRefusal keeps the code, field and message with the position")
        func intakeRefusal() throws {
            let refusal = try #require(F.parse("[1]").first?.refusal)
            let intake = IntakeRefusal(refusal, channel: .inbox, at: Date(timeIntervalSince1970: 0))
            #expect(intake.channel == .inbox)
            #expect(intake.code == "unknown-shape")
            #expect(intake.field == nil)
            #expect(intake.message == "element 0: the event is a number; expected a JSON object: an App Services authentication event or a CloudEvent [unknown-shape]")
        }
    }
}

import BSON
import Foundation
@testable import LetheCore
import Testing

extension EventTests {
    @Suite("Bodies: one object, an array, JSON Lines; size and JSON checks")
    struct Bodies {
        typealias F = EventFixtures

        @Test("an array gives one result per element, in order; a bad element is refused at its index and hides nothing")
        func array() throws {
            let json = "[\(F.appServices()), 42, \(F.cloudEvent()), {\"operationType\": \"DELETE\", \"user\": {}, \"time\": \"2024-11-23T01:07:20Z\"}, \(F.appServices(operationType: "LOGIN"))]"
            let results = F.parse(json)
            try #require(results.count == 5)
            #expect(results[0].event?.source == .appServices)
            #expect(results[1].refusal == EventRefusal(
                reason: .unknownShape, field: nil,
                message: "the event is a number; expected a JSON object: an App Services authentication event or a CloudEvent",
                location: .element(1)))
            #expect(results[2].event?.source == .cloudEvents)
            #expect(results[3].refusal?.location == .element(3))
            #expect(results[3].refusal?.position == 3)
            #expect(results[3].refusal?.description == "element 3: user.id is missing; expected the deleted user's id [missing-field]")
            #expect(results[4].event?.kind == .ignored(operationType: "LOGIN"))
        }

        @Test("an empty array is no events")
        func emptyArray() {
            #expect(F.parse(" [ ] ").isEmpty)
        }

        @Test("JSON Lines: a bad line in the middle is refused with its line number; blank lines are skipped; the others are parsed")
        func jsonLines() throws {
            let compact = { (json: String) in json.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ") }
            let body = [
                compact(F.appServices()),
                "",
                #"{"operationType": "DELETE", "user": {"id": "u2"}, "time": oops}"#,
                "   ",
                compact(F.cloudEvent()),
                #"{"operationType": "DELETE", "user": {"id": "u 3"}, "time": "2024-11-23T01:07:20Z"}"#,
                #"["not", "an", "object"]"#,
                compact(F.appServices(operationType: "CREATE")),
                "",
            ].joined(separator: "\r\n")
            let results = F.parse(body)
            try #require(results.count == 6)
            #expect(results[0].event?.isDeletion == true)
            #expect(results[1].refusal == EventRefusal(
                reason: .badJSON, field: nil,
                message: "the line is not valid JSON: unexpected character at column 59; expected one JSON object per line",
                location: .line(3)))
            #expect(results[1].refusal?.description
                == "line 3: the line is not valid JSON: unexpected character at column 59; expected one JSON object per line [bad-json]")
            #expect(results[2].event?.source == .cloudEvents)
            #expect(results[3].refusal?.code == "not-plain-id")
            #expect(results[3].refusal?.location == .line(6))
            #expect(results[4].refusal?.code == "unknown-shape")
            #expect(results[4].refusal?.position == 7)
            #expect(results[5].event?.kind == .ignored(operationType: "CREATE"))
        }

        @Test("JSON Lines whose first line is bad still parses the rest")
        func jsonLinesBadFirstLine() throws {
            let results = F.parse("{\"operationType\": \n" + #"{"specversion": "1.0", "id": "1", "source": "/a", "type": "user.deleted", "data": {"userId": "u1"}}"#)
            try #require(results.count == 2)
            #expect(results[0].refusal?.message == "the line is not valid JSON: unexpected end of input at column 19; expected one JSON object per line")
            #expect(results[1].event?.subject?.userId == "u1")
        }

        @Test("a pretty-printed object is one event; with a syntax error it is one bad-json refusal with line and column")
        func prettyPrinted() throws {
            #expect(try F.accepted(F.appServices()).isDeletion)
            let broken = F.appServices().replacingOccurrences(of: #""type": "normal","#, with: #""type": "normal",,"#)
            let refusal = try F.refusal(broken)
            #expect(refusal == EventRefusal(
                reason: .badJSON, field: nil,
                message: "the body is not valid JSON: expected a quoted key at line 6, column 22; expected one JSON object, an array of objects, or JSON Lines (one object per line)"))
        }

        @Test("an array with a syntax error is one bad-json refusal: nothing in it is guessed")
        func brokenArray() throws {
            let refusal = try F.refusal("[\(F.cloudEvent()),\n\(F.cloudEvent(id: "2"))\n")
            #expect(refusal.message == "the body is not valid JSON: unexpected end of input at line 3, column 1; expected one JSON object, an array of objects, or JSON Lines (one object per line)")
            #expect(refusal.location == nil)
        }

        @Test("malformed JSON is refused without echoing any of it", arguments: [
            (#"{"operationType": "DELETE", "user": {"id": "a", "id": "ada.lovelace@example.com"}}"#, "the same key twice in one object at line 1, column 49"),
            (#"{"operationType": 'ada.lovelace@example.com'}"#, "unexpected character at line 1, column 19"),
            (#"{"operationType": "ada.lovelace@example.com"#, "unterminated string at line 1, column 19"),
            ("{\"a\": \"ada.lovelace@example.com\u{1}\"}", "control character in a string (it must be escaped) at line 1, column 32"),
            (#"{"a": "ada.lovelace@example.com\x"}"#, "invalid escape sequence at line 1, column 32"),
            (#"{"a": "\ud800 ada.lovelace@example.com"}"#, "invalid \\u escape (a lone surrogate) at line 1, column 8"),
            (#"{"a": 01}"#, "invalid number (leading zero) at line 1, column 8"),
            (#"{"a": 1e999}"#, "number out of range at line 1, column 7"),
            (#"{"a": tru}"#, "unexpected character at line 1, column 7"),
            (#"{"a" 1}"#, "expected ':' after a key at line 1, column 6"),
            (#"{"a": 1} x"#, "content after the JSON value at line 1, column 10"),
            (String(repeating: "[", count: 65) + String(repeating: "]", count: 65), "nested deeper than 64 levels at line 1, column 65"),
        ])
        func badJSON(body: String, problem: String) throws {
            let refusal = try F.refusal(body)
            #expect(refusal.reason == .badJSON)
            #expect(refusal.message == "the body is not valid JSON: \(problem); expected one JSON object, an array of objects, or JSON Lines (one object per line)")
            #expect(!refusal.description.contains(F.email))
        }

        @Test("invalid UTF-8 in a string is refused")
        func invalidUTF8() throws {
            var bytes = Array(#"{"a": "x"#.utf8)
            bytes.append(0xFF)
            bytes.append(contentsOf: Array(#""}"#.utf8))
            let results = DeletionEventParser().parse(json: Data(bytes))
            #expect(results.first?.refusal?.message.hasPrefix("the body is not valid JSON: invalid UTF-8 in a string at line 1, column 7;") == true)
        }

        @Test("escapes and surrogate pairs decode; a byte-order mark is skipped")
        func escapes() throws {
            let json = "\u{FEFF}" + #"{"specversion": "1.0", "id": "\u00e9\ud83d\ude00\n", "source": "\/a", "type": "user.deleted", "data": {"userId": "\u0075\u0031"}}"#
            let results = F.parse(json)
            // The id holds a line feed: refused as holding control characters, not misread.
            #expect(results.first?.refusal?.message.hasPrefix("id contains control characters;") == true)
            let fine = try F.accepted("\u{FEFF}" + #"{"specversion": "1.0", "id": "\u00e9\ud83d\ude00", "source": "\/a", "type": "user.deleted", "data": {"userId": "\u0075\u0031"}}"#)
            #expect(fine.eventId == "é😀")
            #expect(fine.cloudEventsSource == "/a")
            #expect(fine.subject?.userId == "u1")
        }

        @Test("an empty or blank body is refused", arguments: ["", "  \n\t\n", "\u{FEFF}"])
        func empty(body: String) throws {
            let refusal = try F.refusal(body)
            #expect(refusal.description == "the body is empty; expected one JSON object, an array of objects, or JSON Lines (one object per line) [bad-json]")
        }

        @Test("a body over maximumBytes is refused before it is parsed; one at the limit is read")
        func oversized() throws {
            let options = DeletionEventParser.Options(maximumBytes: 64)
            // Not JSON at all: refused for its size, so it was never parsed.
            let refusal = try F.refusal(String(repeating: "}", count: 65), options: options)
            #expect(refusal == EventRefusal(
                reason: .oversized, field: nil,
                message: "the body is larger than 64 bytes, the most accepted (DeletionEventParser.Options.maximumBytes); send fewer events per body"))
            let atLimit = #"{"specversion":"1.0","id":"1","source":"/a","type":"x.y","x":""}"#
            #expect(atLimit.utf8.count == 64)
            #expect(try F.accepted(atLimit, options: options).kind == .ignored(operationType: "x.y"))
        }

        @Test("the default limit is 1 MiB")
        func defaultLimit() throws {
            #expect(DeletionEventParser.Options().maximumBytes == 1_048_576)
            let body = Data(count: 1_048_577)
            #expect(DeletionEventParser().parse(json: body).first?.refusal?.reason == .oversized)
            let padded = F.cloudEvent() + String(repeating: " ", count: 1_048_576 - F.cloudEvent().utf8.count)
            #expect(try F.accepted(padded).isDeletion)
        }
    }
}

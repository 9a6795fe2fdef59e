import BSON
import Foundation
@testable import LetheCore
import Testing

extension EventTests {
    @Suite("Dedupe keys: the same event gives the same key, different events different keys, no personal data")
    struct Dedupe {
        typealias F = EventFixtures
        static let key = try! SecretKey(text: String(repeating: "ab", count: 32))

        @Test("known answers: the documented canonical form, hashed with SHA-256 or HMAC-SHA256")
        func knownAnswers() throws {
            // Computed independently (Python hashlib/hmac) from docs/events.md.
            let appServices = try F.accepted(F.appServices())
            #expect(appServices.dedupeKey == "as:1c6c40a709e66cbe2c99359a5a7cc25e0ff9160711b93b776dfa77ebd6ac17af")
            #expect(appServices.dedupeKey(using: Self.key) == "as:eed776457a6ee55797276687069207b2735fbf42741f34f1fe4f0cb71acd9ab6")
            let cloudEvent = try F.accepted(F.cloudEvent())
            #expect(cloudEvent.dedupeKey == "ce:57ab1ed447658dfecb83da4e5dbde40cf45e116a3112e9c015dd69d543352b03")
            #expect(cloudEvent.dedupeKey(using: Self.key) == "ce:805cbf97576f578a0254bd5853b678b03380eb68b80cb9ccbbcb529b7e019c53")
            #expect(appServices.dedupeKey(using: nil) == appServices.dedupeKey)
        }

        @Test("the same event delivered twice, in any form, gives the same key")
        func sameEvent() throws {
            let first = try F.accepted(F.appServices())
            let again = try F.accepted(F.appServices())
            #expect(first.dedupeKey == again.dedupeKey)
            #expect(first == again)
            let document = try #require(DeletionEventParser().parse(document: F.appServicesDocument()).event)
            #expect(document.dedupeKey == first.dedupeKey)
            let keyed = DeletionEventParser(options: .init(dedupeSecret: Self.key))
            #expect(keyed.parse(document: F.appServicesDocument()).event?.dedupeKey == first.dedupeKey(using: Self.key))
        }

        @Test("identity order and repeats do not change the key")
        func identityOrder() throws {
            let forward = try F.accepted(F.appServices(identities: [F.passwordIdentity, F.googleIdentity]))
            let backward = try F.accepted(F.appServices(identities: [F.googleIdentity, F.passwordIdentity, F.googleIdentity]))
            #expect(forward.dedupeKey == backward.dedupeKey)
        }

        @Test("a different time, user, identity or operation gives a different App Services key")
        func differentAppServices() throws {
            let reference = try F.accepted(F.appServices()).dedupeKey
            let others = [
                F.appServices(time: #""2024-11-23T01:07:20.124Z""#),
                F.appServices(userId: "6560f1c2a1b2c3d4e5f60002"),
                F.appServices(identities: [F.passwordIdentity]),
                F.appServices(identities: [F.passwordIdentity, "109876543210987654322"]),
                F.appServices(operationType: "LOGIN"),
            ]
            var keys: Set<String> = [reference]
            for json in others { keys.insert(try F.accepted(json).dedupeKey) }
            #expect(keys.count == others.count + 1)
        }

        @Test("length-prefixed fields: ids that run into each other do not collide")
        func noRunTogether() throws {
            let a = try F.accepted(Refusals.appServices(user: #"{"id": "ab", "identities": ["c"]}"#)).dedupeKey
            let b = try F.accepted(Refusals.appServices(user: #"{"id": "a", "identities": ["bc"]}"#)).dedupeKey
            #expect(a != b)
        }

        @Test("logins of one user at different times are different events")
        func ignoredDiffer() throws {
            let first = try F.accepted(F.appServices(operationType: "LOGIN")).dedupeKey
            let second = try F.accepted(F.appServices(operationType: "LOGIN", time: #""2024-11-23T09:00:00Z""#)).dedupeKey
            #expect(first != second)
        }

        @Test("CloudEvents: the key is the source and id; a different id or source gives a different key")
        func cloudEvents() throws {
            let reference = try F.accepted(F.cloudEvent())
            // Redelivered (even with other content): the same event, as CloudEvents says.
            #expect(try F.accepted(F.cloudEvent(userId: "someone-else", time: nil)).dedupeKey == reference.dedupeKey)
            #expect(try F.accepted(F.cloudEvent(id: "0b6a3f9e-8c1d-4e2f-9a7b-5c4d3e2f1a0c")).dedupeKey != reference.dedupeKey)
            #expect(try F.accepted(F.cloudEvent(source: "https://auth.example.com/other")).dedupeKey != reference.dedupeKey)
            // An ignored CloudEvent still has its key.
            #expect(try F.accepted(F.cloudEvent(type: "user.created")).dedupeKey == reference.dedupeKey)
        }

        @Test("keyed: the parser's key is used; another key or none gives another key")
        func keyed() throws {
            let options = DeletionEventParser.Options(dedupeSecret: Self.key)
            let keyed = try F.accepted(F.appServices(), options: options)
            let plain = try F.accepted(F.appServices())
            #expect(keyed.dedupeKey == plain.dedupeKey(using: Self.key))
            #expect(keyed.dedupeKey != plain.dedupeKey)
            #expect(keyed.dedupeKey(using: SecretKey.random()) != keyed.dedupeKey)
            #expect(keyed.dedupeKey(using: nil) == plain.dedupeKey)
            #expect(try F.accepted(F.appServices(), options: options).dedupeKey == keyed.dedupeKey)
        }

        @Test("a key holds no id: only the prefix and 64 hex digits")
        func noIds() throws {
            for json in [F.appServices(), F.cloudEvent()] {
                let key = try F.accepted(json).dedupeKey
                #expect(key.dropFirst(3).allSatisfy { $0.isHexDigit && !$0.isUppercase })
                #expect(key.count == 67)
            }
        }
    }

    @Suite("Event times: exact milliseconds from every accepted form")
    struct Times {
        @Test("ISO-8601 forms", arguments: [
            ("2024-11-23T01:07:20.123Z", 1_732_324_040_123 as Int64?),
            ("2024-11-23T01:07:20Z", 1_732_324_040_000),
            ("2024-11-23T01:07:20.1Z", 1_732_324_040_100),
            ("2024-11-23T01:07:20.123999999Z", 1_732_324_040_123),
            ("2024-11-23 03:07:20.123+02:00", 1_732_324_040_123),
            ("2024-11-22T21:37:20.123-0330", 1_732_324_040_123),
            ("2024-02-29T23:59:59.999Z", 1_709_251_199_999),
            ("1969-12-31T23:59:59Z", -1_000),
            ("2024-11-23T01:07:20.Z", nil),
            ("2024-11-23T01:07:20", nil),
            ("2024-11-23", nil),
            ("2024-13-01T00:00:00Z", nil),
            ("2024-11-31T00:00:00Z", nil),
            ("2024-11-23T24:00:00Z", nil),
            ("2024-11-23T01:07:60Z", nil),
            ("2024-11-23T01:07:20+24:00", nil),
            ("2024-11-23T01:07:20Zjunk", nil),
            ("２０２４-11-23T01:07:20Z", nil),
        ])
        func iso(text: String, milliseconds: Int64?) {
            #expect(EventTime.milliseconds(iso: text) == milliseconds)
        }

        @Test("Extended JSON and BSON forms")
        func wrapped() {
            #expect(EventTime.milliseconds(from: .datetime(BSONDatetime(millisecondsSinceEpoch: 5))) == 5)
            #expect(EventTime.milliseconds(from: ["$date": ["$numberLong": "-5"]]) == -5)
            #expect(EventTime.milliseconds(from: ["$date": .int32(5)]) == 5)
            #expect(EventTime.milliseconds(from: ["$date": "1970-01-01T00:00:00.005Z"]) == 5)
            #expect(EventTime.milliseconds(from: ["$date": "x", "other": 1]) == nil)
            #expect(EventTime.milliseconds(from: ["$date": ["$numberLong": "99999999999999999999"]]) == nil)
            #expect(EventTime.milliseconds(from: .int64(5)) == nil)
            #expect(EventTime.milliseconds(from: ["$date": .double(5.5)]) == nil)
        }
    }
}

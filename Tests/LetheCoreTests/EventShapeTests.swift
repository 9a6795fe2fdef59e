import BSON
import Foundation
@testable import LetheCore
import Testing

extension EventTests {
    @Suite("Shapes: App Services authentication events and CloudEvents 1.0")
    struct Shapes {
        typealias F = EventFixtures

        @Test("an App Services DELETE gives the user and every identity, its providers and time, and nothing of user.data")
        func appServicesDelete() throws {
            let event = try F.accepted(F.appServices())
            #expect(event.source == .appServices)
            #expect(event.eventId == nil)
            #expect(event.cloudEventsSource == nil)
            #expect(event.kind == .userDeleted(ErasureSubject(userId: F.userId, identities: [F.passwordIdentity, F.googleIdentity])))
            #expect(event.subject?.userId == F.userId)
            #expect(event.isDeletion)
            #expect(event.providers == ["local-userpass", "oauth2-google"])
            #expect(event.occurredAt == Date(timeIntervalSince1970: 1_732_324_040.123))
            #expect(event.dedupeKey.hasPrefix("as:"))
            #expect(event.dedupeKey.count == 3 + 64)
            #expect(event.description
                == "app-services user-deleted (2 identities) at 2024-11-23T01:07:20.123Z via [local-userpass, oauth2-google], key \(event.dedupeKey)")
        }

        @Test("time as ISO-8601, {$date: text}, {$date: {$numberLong}} and {$date: number} is the same instant and key", arguments: [
            #""2024-11-23T01:07:20.123Z""#,
            #"{"$date": "2024-11-23T01:07:20.123Z"}"#,
            #"{"$date": {"$numberLong": "1732324040123"}}"#,
            #"{"$date": 1732324040123}"#,
            #""2024-11-23T02:07:20.123+01:00""#,
            #""2024-11-22t20:07:20.123456-0500""#,
        ])
        func timeForms(time: String) throws {
            let reference = try F.accepted(F.appServices())
            let event = try F.accepted(F.appServices(time: time))
            #expect(event.occurredAt == reference.occurredAt)
            #expect(event.dedupeKey == reference.dedupeKey)
        }

        @Test("an inbox document (BSON, time a BSON date, with _id) is the same event as its JSON")
        func inboxDocument() throws {
            let fromDocument = try #require(DeletionEventParser().parse(document: F.appServicesDocument()).event)
            let fromJSON = try F.accepted(F.appServices())
            #expect(fromDocument == fromJSON)
        }

        @Test("a dictionary from JSONSerialization is the same event as its JSON")
        func object() throws {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(F.appServices().utf8)) as? [String: Any])
            let fromObject = try #require(DeletionEventParser().parse(object: object).event)
            #expect(fromObject == (try F.accepted(F.appServices())))
        }

        @Test("dictionary values: booleans, numbers and dates keep their types; others are a wrong type")
        func objectValues() throws {
            let parser = DeletionEventParser()
            let asBool = try #require(parser.parse(object: ["operationType": "DELETE", "user": ["id": true], "time": "2024-11-23T01:07:20.123Z"]).refusal)
            #expect(asBool.message.hasPrefix("user.id is a boolean;"))
            let asNumber = try #require(parser.parse(object: ["operationType": "DELETE", "user": ["id": 7], "time": "2024-11-23T01:07:20.123Z"]).refusal)
            #expect(asNumber.message.hasPrefix("user.id is a number;"))
            let asData = try #require(parser.parse(object: ["operationType": "DELETE", "user": ["id": Data([1])], "time": "2024-11-23T01:07:20.123Z"]).refusal)
            #expect(asData.message.hasPrefix("user.id is a value of an unsupported type;"))
            let dated = try #require(parser.parse(object: [
                "operationType": "DELETE", "user": ["id": F.userId], "time": Date(timeIntervalSince1970: 1_732_324_040.123),
            ]).event)
            #expect(dated.occurredAt == Date(timeIntervalSince1970: 1_732_324_040.123))
        }

        @Test("App Services LOGIN, CREATE and other operation types are acknowledged and ignored", arguments: ["LOGIN", "CREATE", "UPDATE", "delete"])
        func appServicesIgnored(operationType: String) throws {
            let event = try F.accepted(F.appServices(operationType: operationType))
            #expect(event.kind == .ignored(operationType: operationType))
            #expect(event.subject == nil)
            #expect(!event.isDeletion)
            #expect(event.providers == ["local-userpass", "oauth2-google"])
            #expect(event.description.hasPrefix("app-services ignored \(operationType) at 2024-11-23T01:07:20.123Z"))
            let fromDocument = DeletionEventParser().parse(document: F.appServicesDocument(operationType: operationType))
            #expect(fromDocument.event?.kind == .ignored(operationType: operationType))
        }

        @Test("an ignored event is not checked further: a LOGIN without a usable user is still ignored")
        func ignoredNotChecked() throws {
            let event = try F.accepted(#"{"operationType": "LOGIN", "user": {"id": {"$ne": ""}}, "time": "garbage"}"#)
            #expect(event.kind == .ignored(operationType: "LOGIN"))
            #expect(event.occurredAt == nil)
        }

        @Test("a CloudEvents user.deleted gives the user, identities as objects or strings, the event id and source")
        func cloudEventDelete() throws {
            let event = try F.accepted(F.cloudEvent())
            #expect(event.source == .cloudEvents)
            #expect(event.eventId == F.ceId)
            #expect(event.cloudEventsSource == F.ceSource)
            #expect(event.subject == ErasureSubject(userId: F.userId, identities: [F.passwordIdentity, F.googleIdentity]))
            #expect(event.providers == ["local-userpass"])
            #expect(event.occurredAt == Date(timeIntervalSince1970: 1_732_324_040.123))
            #expect(event.dedupeKey.hasPrefix("ce:"))
            #expect(event.description
                == "cloudevents user-deleted (2 identities) at 2024-11-23T01:07:20.123Z via [local-userpass], key \(event.dedupeKey)")
        }

        @Test("a CloudEvent without time or identities is accepted; duplicate identities count once")
        func cloudEventMinimal() throws {
            let event = try F.accepted(#"{"specversion": "1.0", "id": "1", "source": "/auth", "type": "user.deleted", "data": {"userId": "u1", "identities": ["a", "a", {"id": "a"}]}}"#)
            #expect(event.occurredAt == nil)
            #expect(event.subject == ErasureSubject(userId: "u1", identities: ["a"]))
            #expect(event.description == "cloudevents user-deleted (1 identity), key \(event.dedupeKey)")
            let bare = try F.accepted(#"{"specversion": "1.0", "id": "1", "source": "/auth", "type": "user.deleted", "data": {"userId": "u1"}}"#)
            #expect(bare.subject == ErasureSubject(userId: "u1"))
        }

        @Test("CloudEvents of other types are ignored without looking at their data", arguments: ["user.created", "com.example.user.login", "user.deleted.v2"])
        func cloudEventIgnored(type: String) throws {
            let event = try F.accepted(#"{"specversion": "1.0", "id": "9", "source": "/auth", "type": "\#(type)", "data": "anything"}"#)
            #expect(event.kind == .ignored(operationType: type))
            #expect(event.eventId == "9")
            #expect(event.description == "cloudevents ignored \(type), key \(event.dedupeKey)")
        }

        @Test("unknown top-level fields are ignored; specversion decides the shape when both are present")
        func extraFields() throws {
            var json = F.cloudEvent()
            json.removeFirst()
            let event = try F.accepted(#"{"operationType": "LOGIN", "x-trace": [1, 2], "#+json)
            #expect(event.source == .cloudEvents)
            #expect(event.isDeletion)
        }

        @Test("provider types that are not plain names are left out, never refused")
        func providers() throws {
            let json = #"{"operationType": "DELETE", "providers": ["local-userpass", "ada.lovelace@example.com", 7, "local-userpass"], "user": {"id": "u1", "identities": [{"id": "i1", "provider_type": "has space"}, {"id": "i2", "provider_type": "oauth2-apple"}]}, "time": "2024-11-23T01:07:20Z"}"#
            let event = try F.accepted(json)
            #expect(event.providers == ["local-userpass", "oauth2-apple"])
        }

        @Test("nothing shown of a parsed event holds the email, name, user id or identity ids", arguments: [
            EventFixtures.appServices(), EventFixtures.cloudEvent(), EventFixtures.appServices(operationType: "LOGIN"),
        ])
        func nothingPersonalShown(json: String) throws {
            for parsed in F.parse(json) {
                let shown = F.everythingShown(parsed) + F.everythingShown(try #require(parsed.event)) + F.everythingShown(try #require(parsed.event).kind)
                for secret in [F.email, F.name, F.userId, F.passwordIdentity, F.googleIdentity, F.ceId, F.ceSource] {
                    #expect(!shown.contains(secret), "\(secret) shown in \(shown)")
                }
            }
        }
    }
}

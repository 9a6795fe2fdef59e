import BSON
import Foundation
@testable import LetheCore
import Testing

/// The parent suite of every event test, so that `--filter EventTests` runs them all.
@Suite("Deletion events")
struct EventTests {}

/// Realistic event payloads, and helpers to parse them.
enum EventFixtures {
    static let userId = "6560f1c2a1b2c3d4e5f60001"
    static let passwordIdentity = "6560f1c2a1b2c3d4e5f6a001"
    static let googleIdentity = "109876543210987654321"
    static let email = "ada.lovelace@example.com"
    static let name = "Ada Lovelace"
    /// 2024-11-23T01:07:20.123Z
    static let milliseconds: Int64 = 1_732_324_040_123
    static let ceSource = "https://auth.example.com/users"
    static let ceId = "0b6a3f9e-8c1d-4e2f-9a7b-5c4d3e2f1a0b"

    /// An App Services authentication trigger's DELETE event, as `JSON.stringify` or
    /// `mongoexport` writes it: `time` as relaxed Extended JSON. `user.data` and an
    /// identity's `provider_data` hold the email.
    static func appServices(
        operationType: String = "DELETE", userId: String = userId,
        identities: [String] = [passwordIdentity, googleIdentity],
        time: String = #"{"$date": "2024-11-23T01:07:20.123Z"}"#
    ) -> String {
        let providerTypes = ["local-userpass", "oauth2-google"]
        let identityJSON = identities.enumerated().map { index, id in
            let provider = providerTypes[index % 2]
            return #"{"id": "\#(id)", "provider_type": "\#(provider)", "provider_id": "6560f0aa11b2c3d4e5f60abc", "provider_data": {"email": "\#(email)"}}"#
        }.joined(separator: ", ")
        return """
        {
          "operationType": "\(operationType)",
          "providers": ["local-userpass", "oauth2-google"],
          "user": {
            "id": "\(userId)",
            "type": "normal",
            "custom_data": {"plan": "free"},
            "data": {"email": "\(email)", "name": "\(name)"},
            "identities": [\(identityJSON)]
          },
          "time": \(time)
        }
        """
    }

    /// The same event as the inbox holds it after an App Services function inserted
    /// `authEvent` as-is: `time` is a BSON date.
    static func appServicesDocument(operationType: String = "DELETE") -> BSONDocument {
        [
            "_id": .objectId(BSONObjectId("6760f1c2a1b2c3d4e5f6ffff")!),
            "operationType": .string(operationType),
            "providers": ["local-userpass", "oauth2-google"],
            "user": [
                "id": .string(userId),
                "type": "normal",
                "data": ["email": .string(email), "name": .string(name)],
                "identities": [
                    ["id": .string(passwordIdentity), "provider_type": "local-userpass"],
                    ["id": .string(googleIdentity), "provider_type": "oauth2-google"],
                ],
            ],
            "time": .datetime(BSONDatetime(millisecondsSinceEpoch: milliseconds)),
        ]
    }

    /// A CloudEvents 1.0 `user.deleted` event; identities as objects and a string.
    static func cloudEvent(
        type: String = "user.deleted", id: String = ceId, source: String = ceSource,
        userId: String = userId, time: String? = "2024-11-23T01:07:20.123Z"
    ) -> String {
        let timeField = time.map { #""time": "\#($0)", "# } ?? ""
        return """
        {"specversion": "1.0", "id": "\(id)", "source": "\(source)", "type": "\(type)", \(timeField)"datacontenttype": "application/json", \
        "data": {"userId": "\(userId)", "email": "\(email)", "identities": [{"id": "\(passwordIdentity)", "provider_type": "local-userpass"}, "\(googleIdentity)"]}}
        """
    }

    static func parse(_ json: String, options: DeletionEventParser.Options = .init()) -> [ParsedEvent] {
        DeletionEventParser(options: options).parse(json: Data(json.utf8))
    }

    /// The one event of `json`, accepted.
    static func accepted(_ json: String, options: DeletionEventParser.Options = .init()) throws -> DeletionEvent {
        let results = parse(json, options: options)
        try #require(results.count == 1)
        return try #require(results[0].event, "refused: \(results[0])")
    }

    /// The one refusal of `json`.
    static func refusal(_ json: String, options: DeletionEventParser.Options = .init()) throws -> EventRefusal {
        let results = parse(json, options: options)
        try #require(results.count == 1)
        return try #require(results[0].refusal, "accepted: \(results[0])")
    }

    /// Everything a value shows of itself: description, debug description and dump.
    static func everythingShown(_ value: Any) -> String {
        var dumped = ""
        dump(value, to: &dumped)
        return String(describing: value) + "\n" + String(reflecting: value) + "\n" + dumped
    }
}

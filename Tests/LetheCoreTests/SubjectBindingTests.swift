import BSON
import Foundation
@testable import LetheCore
import Testing

@Suite("Subject binding: ids become typed values, hostile ids are refused")
struct SubjectBindingTests {
    @Test("a string id binds as one string; identities join when asked, deduplicated")
    func stringIds() throws {
        let subject = ErasureSubject(userId: "64b7f0c2a1b2c3d4e5f60718", identities: ["google|1234", "64b7f0c2a1b2c3d4e5f60718"])
        #expect(try SubjectBinding.bind(subject, idType: .string, includeIdentities: false) == [.string("64b7f0c2a1b2c3d4e5f60718")])
        #expect(try SubjectBinding.bind(subject, idType: .string, includeIdentities: true)
            == [.string("64b7f0c2a1b2c3d4e5f60718"), .string("google|1234")])
    }

    @Test("objectId and uuid ids bind as their BSON types")
    func typedIds() throws {
        let oid = try SubjectBinding.bind(ErasureSubject(userId: "64B7F0C2A1B2C3D4E5F60718"), idType: .objectId, includeIdentities: true)
        #expect(oid == [.objectId(BSONObjectId("64b7f0c2a1b2c3d4e5f60718")!)])
        let uuid = try SubjectBinding.bind(ErasureSubject(userId: "123e4567-e89b-12d3-a456-426614174000"), idType: .uuid, includeIdentities: true)
        #expect(uuid == [.binary(BSONBinary(uuid: UUID(uuidString: "123e4567-e89b-12d3-a456-426614174000")!))])
    }

    @Test("any binds the string and every typed form the text has")
    func anyIds() throws {
        let values = try SubjectBinding.bind(ErasureSubject(userId: "64b7f0c2a1b2c3d4e5f60718"), idType: .any, includeIdentities: true)
        #expect(values == [.string("64b7f0c2a1b2c3d4e5f60718"), .objectId(BSONObjectId("64b7f0c2a1b2c3d4e5f60718")!)])
    }

    @Test("ids that do not fit the idType are refused, naming which id and what was expected")
    func wrongType() throws {
        let error = try #require(throws: SubjectError.self) {
            try SubjectBinding.bind(ErasureSubject(userId: "alice"), idType: .objectId, includeIdentities: true)
        }
        #expect(error.description == "the user id is not an ObjectId; expected 24 hexadecimal digits, as the policy's subject.idType is objectId")
        let identity = try #require(throws: SubjectError.self) {
            try SubjectBinding.bind(ErasureSubject(userId: "123e4567-e89b-12d3-a456-426614174000", identities: ["x"]), idType: .uuid, includeIdentities: true)
        }
        #expect(identity.which == "identity id #1")
    }

    @Test("hostile or malformed ids are refused and never echoed", arguments: [
        #"{"$ne": ""}"#, "$ne", "", "[\"a\",\"b\"]", "a b", "a\nb", "a\u{0}b", "'or 1=1", String(repeating: "x", count: 257), "tab\there", "zero\u{200B}width",
    ])
    func hostile(id: String) throws {
        for idType in SubjectIDType.allCases {
            let error = try #require(throws: SubjectError.self) {
                try SubjectBinding.bind(ErasureSubject(userId: id), idType: idType, includeIdentities: true)
            }
            if id.count > 3 { #expect(!error.description.contains(id)) }
        }
    }

    @Test("plain ids from real auth systems are accepted", arguments: [
        "64b7f0c2a1b2c3d4e5f60718", "auth0|5f7c8ec7c33c6c004bbafe82", "google-oauth2|1234567890", "user@example.com", "a", "x_y-z.1:2",
    ])
    func plain(id: String) throws {
        #expect(try SubjectBinding.bind(ErasureSubject(userId: id), idType: .string, includeIdentities: false) == [.string(id)])
    }
}

@Suite("Keys, tokens and hashes")
struct KeysTests {
    let key = try! SecretKey(text: String(repeating: "ab", count: 32))

    @Test("keys shorter than 32 bytes are refused with a hint")
    func shortKey() throws {
        let error = try #require(throws: KeyError.self) { try SecretKey(text: "short") }
        #expect(error.description.contains("openssl rand -hex 32"))
    }

    @Test("the token is stable per user, differs between users and keys, and hides the id")
    func tokens() throws {
        let anonymizer = Anonymizer(key: key)
        let alice = ErasureSubject(userId: "alice-id")
        #expect(anonymizer.token(for: alice) == anonymizer.token(for: ErasureSubject(userId: "alice-id", identities: ["other"])))
        #expect(anonymizer.token(for: alice) != anonymizer.token(for: ErasureSubject(userId: "bob-id")))
        #expect(anonymizer.token(for: alice) != Anonymizer(key: .random()).token(for: alice))
        #expect(anonymizer.token(for: alice).hasPrefix("anon_"))
        #expect(!anonymizer.token(for: alice).contains("alice"))
    }

    @Test("hashes are keyed, typed, idempotent, and leave null alone")
    func hashes() {
        let anonymizer = Anonymizer(key: key)
        let hashed = anonymizer.hash("10.0.0.1")
        #expect(hashed.stringValue?.hasPrefix("h1:") == true)
        #expect(anonymizer.hash(hashed) == hashed)
        #expect(anonymizer.hash(.int32(1)) != anonymizer.hash("1"))
        #expect(anonymizer.hash(.null) == .null)
        #expect(Anonymizer(key: .random()).hash("10.0.0.1") != hashed)
    }

    @Test("subject pseudonyms differ from data tokens for the same user")
    func separatePurposes() {
        let subject = ErasureSubject(userId: "u1")
        #expect(SubjectPseudonymizer(key: key).pseudonym(for: subject).dropFirst(5) != Anonymizer(key: key).token(for: subject).dropFirst(5))
    }
}

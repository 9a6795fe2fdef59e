import Foundation
@testable import LetheCore
import Testing

/// Issue 16, point 7: ids are measured in UTF-8 bytes, and damaged UTF-8 is refused.
@Suite("Subject ids: bytes and damaged text")
struct SubjectBytesTests {
    @Test("\"a\" and 150,000 combining accents is one character but 300 KB: refused, in every channel")
    func combiningAccents() throws {
        let id = "a" + String(repeating: "\u{0301}", count: 150_000)
        #expect(id.count == 1)
        #expect(throws: SubjectError.self) { try SubjectBinding.checkPlain(id, which: "the user id") }
        let event = #"{"specversion":"1.0","id":"e1","source":"s","type":"user.deleted","data":{"userId":"\#(id)"}}"#
        let refusal = try EventFixtures.refusal(event)
        #expect(refusal.reason == .notPlainId && refusal.field == "data.userId")
        #expect(refusal.message.contains("longer than 256 bytes (UTF-8)"))
        let longSource = #"{"specversion":"1.0","id":"e1","source":"\#(String(repeating: "é", count: 600))","type":"user.deleted","data":{"userId":"u"}}"#
        #expect(try EventFixtures.refusal(longSource).field == "source")
    }

    @Test("the limit is 256 bytes: 128 two-byte letters pass, 129 do not")
    func byteLimit() throws {
        try SubjectBinding.checkPlain(String(repeating: "é", count: 128), which: "the user id")
        #expect(throws: SubjectError.self) { try SubjectBinding.checkPlain(String(repeating: "é", count: 129), which: "the user id") }
    }

    @Test("U+FFFD, what invalid UTF-8 (--user $'\\xff\\xfe') becomes, is refused rather than erasing another user")
    func replacementCharacter() throws {
        let damaged = String(decoding: [0xFF, 0xFE] as [UInt8], as: UTF8.self)
        #expect(damaged == "\u{FFFD}\u{FFFD}")
        #expect(throws: SubjectError.self) { try SubjectBinding.checkPlain(damaged, which: "the user id (--user)") }
        #expect(throws: SubjectError.self) { try SubjectBinding.bind(ErasureSubject(userId: "u1", identities: ["x\u{FFFD}"]), idType: .any, includeIdentities: true) }
        do {
            try SubjectBinding.checkPlain(damaged, which: "the user id (--user)")
        } catch {
            #expect(error.description == "the user id (--user) contains U+FFFD, the mark of bytes that were not valid UTF-8; expected "
                + SubjectBinding.expectation + ", in valid UTF-8")
        }
    }
}

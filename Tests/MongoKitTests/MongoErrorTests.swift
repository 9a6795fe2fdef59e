@testable import MongoKit
import Testing

@Suite("MongoError")
struct MongoErrorTests {
    @Test("description leaves out the server's message, debugDescription keeps it")
    func noDetailInDescription() {
        let error = MongoError(
            code: .duplicateKey, operation: "insertOne", namespace: "app.users", message: "the server refused the command",
            serverCode: 11000, codeName: "DuplicateKey",
            detail: #"E11000 duplicate key error dup key: { email: "alice@example.com" }"#
        )
        #expect(error.description == "MongoDB insertOne on app.users failed (duplicate-key, server code 11000 DuplicateKey): the server refused the command")
        #expect(!error.description.contains("alice"))
        #expect(error.debugDescription.contains("alice@example.com"))
    }

    @Test("retriable: network, selection, step-down codes and labels; not: duplicate key, bad argument")
    func retriable() {
        func make(_ code: MongoError.Code, server: Int? = nil, labels: [String] = []) -> MongoError {
            MongoError(code: code, operation: "x", message: "m", serverCode: server, errorLabels: labels)
        }
        #expect(make(.connectionFailed).isRetriable)
        #expect(make(.serverSelectionFailed).isRetriable)
        #expect(make(.commandFailed, server: 10107).isRetriable)  // NotWritablePrimary
        #expect(make(.commandFailed, server: 91).isRetriable)  // ShutdownInProgress
        #expect(make(.commandFailed, server: 2, labels: ["RetryableWriteError"]).isRetriable)
        #expect(!make(.duplicateKey, server: 11000).isRetriable)
        #expect(!make(.commandFailed, server: 2).isRetriable)
        #expect(!make(.invalidArgument).isRetriable)
        #expect(!make(.authenticationFailed).isRetriable)
    }

    @Test("a refused change stream is named plainly, without the server's message; other errors stay as they are")
    func changeStreamRefusal() {
        let standalone = MongoError(
            code: .commandFailed, operation: "watch", namespace: "lethe.inbox", message: "the server refused the command",
            serverCode: 40573, codeName: "Location40573", detail: "The $changeStream stage is only supported on replica sets"
        )
        let mapped = MongoError.changeStream(standalone)
        #expect(mapped.code == .changeStreamsUnavailable)
        #expect(mapped.description == "MongoDB watch on lethe.inbox failed (change-streams-unavailable, server code 40573 Location40573): the server does not offer change streams here; they need a replica set or a sharded cluster (MongoDB 4.0 or later)")
        #expect(mapped.debugDescription.contains("only supported on replica sets"))
        #expect(!mapped.isRetriable)
        let unauthorized = MongoError(code: .commandFailed, operation: "watch", message: "the server refused the command", serverCode: 13)
        #expect(MongoError.changeStream(unauthorized) == unauthorized)
        let network = MongoError(code: .connectionFailed, operation: "watch", message: "socket error")
        #expect(MongoError.changeStream(network) == network)
    }

    @Test("write errors are counted in the description without their messages")
    func writeErrorsSummarised() {
        let error = MongoError(
            code: .writeFailed, operation: "bulkWrite", namespace: "a.b", message: "2 write(s) failed",
            writeErrors: [.init(index: 0, code: 121, message: "doc { ssn: 123 }"), .init(index: 3, code: 11000, message: "dup alice")]
        )
        #expect(error.description.contains("[2 write error(s): #0 code 121, #3 code 11000]"))
        #expect(!error.description.contains("ssn"))
        #expect(error.debugDescription.contains("dup alice"))
    }
}

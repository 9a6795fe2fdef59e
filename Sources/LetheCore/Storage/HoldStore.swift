/// Legal holds: while one stands for a user, no request of theirs changes anything.
public protocol HoldStore: Sendable {
    /// Which of these pseudonyms have a hold, with the hold's id.
    func holds(among pseudonyms: [String]) async throws -> [String: String]
    func addHold(_ hold: LegalHold) async throws
    func holds() async throws -> [LegalHold]
    /// Removes a hold by id; false when there was none.
    func removeHold(id: String) async throws -> Bool
}

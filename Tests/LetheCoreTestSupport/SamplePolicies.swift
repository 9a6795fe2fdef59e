/// Policies in the published shapes of MongoDB's sample data sets, shared by the
/// in-memory, integration and command-line tests; `DATABASE` stands for the test's database.
public enum SamplePolicies {
    /// `sample_analytics`: a customer's `accounts` lookup, the accounts deleted through
    /// it, their transactions retained.
    public static let analytics = """
        version: 1
        name: analytics
        database: DATABASE
        subject: { idType: objectId }
        lookups:
          accounts: { collection: customers, match: _id, field: accounts }
        rules:
          - { collection: customers, match: _id, action: delete }
          - { collection: accounts, match: account_id, using: accounts, action: delete }
          - { collection: transactions, match: account_id, using: accounts, action: retain, reason: Kept 10 years by law }
        """
}

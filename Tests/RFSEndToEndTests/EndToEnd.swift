import Testing

/// Every end-to-end suite, nested here so that they run one test at a time: each starts real
/// workers, run hosts (each initialising an interpreter) and clients, and two cores running
/// several such tests at once, next to the other targets' tests, starve everything of CPU for
/// seconds on end, which makes unrelated deadlines (a WebSocket handshake's) fire.
@Suite(.serialized)
enum EndToEnd {}

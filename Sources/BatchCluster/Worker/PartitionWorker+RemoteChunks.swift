import Batch
import BatchPostgres
import Foundation
import Logging
import PostgresClient

/// A slot processing a remote chunk, on the slot's own thread and session.
extension PartitionWorker {
    func runRemoteChunk(_ chunk: ClaimedRemoteChunk, fence: RemoteChunkFence, slot: Int) {
        var logger = self.logger
        logger[metadataKey: "batch.remote.step"] = "\(chunk.workerStep)"
        logger[metadataKey: "batch.remote.chunk"] = "\(chunk.request.seq)"
        logger[metadataKey: "batch.remote.attempt"] = "\(chunk.request.attempt)"
        do {
            let session = try slotSession(slot)
            guard let step = steps.remote[chunk.workerStep] else {
                try session.failRemoteChunk(fence: fence, reason: "worker has no step \(chunk.workerStep)")
                return
            }
            guard let job = try jobExecution(id: chunk.jobExecutionID, workerStep: chunk.workerStep, session: session) else {
                throw WorkerError(message: "remote chunk \(chunk.chunkID) names an execution that does not exist")
            }
            // Processing runs outside any transaction; only the writes and the reply hold the
            // chunk's row, so a worker paused while processing holds no lock.
            let processed: ProcessedRemoteChunk
            do {
                processed = try step.process(RemoteChunkScope(parameters: job.parameters, request: chunk.request, logger: logger))
            } catch {
                logger.error("remote chunk failed", metadata: ["batch.error": "\(error)"])
                try session.failRemoteChunk(fence: fence, reason: "\(error)")
                return
            }
            var attempt = 1
            while true {
                do {
                    try session.completeRemoteChunk(processed, fence: fence, stepName: step.name, parameters: job.parameters)
                    break
                } catch let lost as RemoteChunkLeaseLost {
                    throw lost
                } catch let tooMany as SkipLimitExceeded {
                    // With the skips the step's other chunks committed, this one is over the limit.
                    logger.error("remote chunk failed", metadata: ["batch.error": "\(tooMany)"])
                    try session.failRemoteChunk(fence: fence, reason: "\(tooMany)")
                    return
                } catch let error where PostgresError.isConnectionLost(error) {
                    throw error
                } catch let error where attempt < Self.chunkWriteAttempts && RetryPolicy.transientErrors.isRetryable(error) {
                    // A deadlock or serialization failure: the same outputs, written again.
                    logger.warning("remote chunk rolled back; retrying", metadata: ["batch.error": "\(error)", "batch.attempt": "\(attempt)"])
                    Thread.sleep(forTimeInterval: 0.05 * Double(1 << attempt))
                    attempt += 1
                } catch {
                    // The writer refused the chunk (a constraint, bad data): retrying cannot help.
                    logger.error("remote chunk failed", metadata: ["batch.error": "\(error)"])
                    try session.failRemoteChunk(fence: fence, reason: "write failed: \(error)")
                    return
                }
            }
            logger.debug("remote chunk done", metadata: ["batch.remote.written": "\(processed.written)"])
        } catch let lost as RemoteChunkLeaseLost {
            logger.warning("remote chunk dropped", metadata: ["batch.error": "\(lost)"])
        } catch {
            // The repository went away or refused: drop the session and the claim; the lease
            // expires and the chunk is claimed again (by any worker) with its items.
            logger.error("remote chunk abandoned to its lease", metadata: ["batch.error": "\(error)"])
            sessions.replace(slot, with: nil)
        }
    }

    /// Writes of one remote chunk tried in all when they fail transiently (deadlock, serialization).
    private static let chunkWriteAttempts = 5
}

import BatchCLI

await SwiftBatchCLI.main(jobs: [
    LedgerSeedJob.job,
    LedgerETLJob.job,
    CSVImportJob.job,
    NoopPartitionsJob.job,
    LedgerAuditJob.job,
    LedgerSplitJob.job,
    LedgerETLAsyncJob.job,
])

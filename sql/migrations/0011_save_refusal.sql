-- SwiftBatch migration 11: a step's save refuses with an error, never with an empty result.
-- A chunk's COMMIT goes out in the same round trip as the step's save (one pipeline), so it runs
-- only if the save succeeded: a save that must not go through (a stale version, a partition
-- claim that is no longer the worker's) raises, which aborts the transaction, output included.
-- SQLSTATE SB001: the claim is lost; SB002: the step's version is stale.
CREATE OR REPLACE FUNCTION batch_refuse_save(reason text, message text) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = CASE reason WHEN 'claim' THEN 'SB001' ELSE 'SB002' END,
        MESSAGE = message;
END
$$;

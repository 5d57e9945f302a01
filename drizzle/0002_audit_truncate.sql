-- Row triggers do not see TRUNCATE; the audit log refuses it too.
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
  FOR EACH STATEMENT EXECUTE FUNCTION fanfare_forbid_change();

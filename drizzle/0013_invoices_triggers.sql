-- Invoices: updated_at on the new tables, and an issued invoice is a frozen document. Once an
-- invoice has left draft, its number, parties, currency, amounts and lines never change, whoever
-- writes; only its status moves on (sent -> paid | void) with the columns that record that.
SELECT fanfare_attach_updated_at_triggers();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION invoices_freeze_issued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'draft' AND (
       NEW.invoice_number IS DISTINCT FROM OLD.invoice_number OR NEW.number_year IS DISTINCT FROM OLD.number_year
    OR NEW.number_sequence IS DISTINCT FROM OLD.number_sequence OR NEW.issuer_type IS DISTINCT FROM OLD.issuer_type
    OR NEW.organization_id IS DISTINCT FROM OLD.organization_id OR NEW.issuer_name IS DISTINCT FROM OLD.issuer_name
    OR NEW.issuer_address IS DISTINCT FROM OLD.issuer_address OR NEW.issuer_tax_id IS DISTINCT FROM OLD.issuer_tax_id
    OR NEW.issuer_country IS DISTINCT FROM OLD.issuer_country OR NEW.issuer_email IS DISTINCT FROM OLD.issuer_email
    OR NEW.billing_name IS DISTINCT FROM OLD.billing_name OR NEW.billing_email IS DISTINCT FROM OLD.billing_email
    OR NEW.billing_address IS DISTINCT FROM OLD.billing_address OR NEW.billing_country IS DISTINCT FROM OLD.billing_country
    OR NEW.customer_tax_id IS DISTINCT FROM OLD.customer_tax_id OR NEW.currency IS DISTINCT FROM OLD.currency
    OR NEW.subtotal IS DISTINCT FROM OLD.subtotal OR NEW.tax_amount IS DISTINCT FROM OLD.tax_amount
    OR NEW.total_amount IS DISTINCT FROM OLD.total_amount OR NEW.tax_lines IS DISTINCT FROM OLD.tax_lines
    OR NEW.issued_at IS DISTINCT FROM OLD.issued_at OR NEW.due_at IS DISTINCT FROM OLD.due_at) THEN
    RAISE EXCEPTION 'invoice % is issued: its contents cannot change', OLD.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_issued_frozen';
  END IF;
  -- Statuses only move forward: draft -> sent | void, sent -> paid | void.
  IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
       (OLD.status = 'draft' AND NEW.status IN ('sent', 'void'))
    OR (OLD.status = 'sent' AND NEW.status IN ('paid', 'void'))) THEN
    RAISE EXCEPTION 'invoice % cannot go from % to %', OLD.id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_status_flow';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER invoices_freeze_issued BEFORE UPDATE ON invoices
  FOR EACH ROW EXECUTE FUNCTION invoices_freeze_issued();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION invoice_lines_only_in_draft() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  st text;
BEGIN
  SELECT status INTO st FROM invoices WHERE id = COALESCE(NEW.invoice_id, OLD.invoice_id);
  IF st IS DISTINCT FROM 'draft' AND st IS NOT NULL THEN
    RAISE EXCEPTION 'invoice % is issued: its lines cannot change', COALESCE(NEW.invoice_id, OLD.invoice_id)
      USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_issued_frozen';
  END IF;
  RETURN COALESCE(NEW, OLD);
END $$;
--> statement-breakpoint
CREATE TRIGGER invoice_line_items_only_in_draft BEFORE INSERT OR UPDATE OR DELETE ON invoice_line_items
  FOR EACH ROW EXECUTE FUNCTION invoice_lines_only_in_draft();

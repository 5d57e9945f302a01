CREATE TABLE "invoice_line_items" (
	"id" uuid PRIMARY KEY NOT NULL,
	"invoice_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"description" text NOT NULL,
	"quantity" integer NOT NULL,
	"unit_amount" bigint NOT NULL,
	"amount" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "invoice_line_items_quantity_positive" CHECK ("invoice_line_items"."quantity" > 0),
	CONSTRAINT "invoice_line_items_unit_amount_non_negative" CHECK ("invoice_line_items"."unit_amount" >= 0),
	CONSTRAINT "invoice_line_items_amount_is_product" CHECK ("invoice_line_items"."amount" = "invoice_line_items"."quantity" * "invoice_line_items"."unit_amount")
);
--> statement-breakpoint
CREATE TABLE "invoice_number_counters" (
	"issuer_key" varchar(64) NOT NULL,
	"year" integer NOT NULL,
	"last_number" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "invoice_number_counters_issuer_key_year_pk" PRIMARY KEY("issuer_key","year"),
	CONSTRAINT "invoice_number_counters_non_negative" CHECK ("invoice_number_counters"."last_number" >= 0)
);
--> statement-breakpoint
CREATE TABLE "invoices" (
	"id" uuid PRIMARY KEY NOT NULL,
	"issuer_type" varchar(20) NOT NULL,
	"organization_id" uuid,
	"issuer_name" varchar(255) NOT NULL,
	"issuer_address" jsonb,
	"issuer_country" varchar(2),
	"issuer_tax_id" varchar(50),
	"issuer_email" varchar(255),
	"user_id" uuid,
	"customer_organization_id" uuid,
	"billing_name" varchar(255) NOT NULL,
	"billing_email" varchar(255) NOT NULL,
	"billing_address" jsonb,
	"billing_country" varchar(2),
	"customer_tax_id" varchar(50),
	"invoice_number" varchar(50),
	"number_year" integer,
	"number_sequence" integer,
	"currency" varchar(3) NOT NULL,
	"subtotal" bigint DEFAULT 0 NOT NULL,
	"tax_amount" bigint DEFAULT 0 NOT NULL,
	"total_amount" bigint DEFAULT 0 NOT NULL,
	"tax_lines" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"notes" text,
	"status" varchar(20) DEFAULT 'draft' NOT NULL,
	"invoice_url" text,
	"issued_at" timestamp with time zone,
	"due_at" timestamp with time zone,
	"paid_at" timestamp with time zone,
	"paid_via" varchar(20),
	"payment_id" uuid,
	"transfer_id" uuid,
	"offline_payment_method" varchar(20),
	"offline_payment_reference" varchar(255),
	"marked_paid_by" uuid,
	"voided_at" timestamp with time zone,
	"void_reason" text,
	"created_by" uuid,
	"source_key" varchar(255),
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "invoices_status_check" CHECK ("invoices"."status" in ('draft', 'sent', 'paid', 'void')),
	CONSTRAINT "invoices_issuer_type_check" CHECK ("invoices"."issuer_type" in ('organization', 'platform')),
	CONSTRAINT "invoices_issuer_check" CHECK (("invoices"."issuer_type" = 'platform') = ("invoices"."organization_id" is null)),
	CONSTRAINT "invoices_paid_via_check" CHECK ("invoices"."paid_via" is null or "invoices"."paid_via" in ('payment', 'offline')),
	CONSTRAINT "invoices_offline_method_check" CHECK ("invoices"."offline_payment_method" is null or "invoices"."offline_payment_method" in ('bank_transfer', 'cash', 'cheque', 'upi', 'other')),
	CONSTRAINT "invoices_currency_format" CHECK ("invoices"."currency" ~ '^[A-Z]{3}$'),
	CONSTRAINT "invoices_amounts_non_negative" CHECK ("invoices"."subtotal" >= 0 and "invoices"."tax_amount" >= 0),
	CONSTRAINT "invoices_total_is_sum" CHECK ("invoices"."total_amount" = "invoices"."subtotal" + "invoices"."tax_amount"),
	CONSTRAINT "invoices_number_by_status" CHECK (("invoices"."status" = 'draft' and "invoices"."invoice_number" is null) or ("invoices"."status" in ('sent', 'paid') and "invoices"."invoice_number" is not null and "invoices"."issued_at" is not null) or "invoices"."status" = 'void'),
	CONSTRAINT "invoices_number_parts" CHECK (("invoices"."invoice_number" is null) = ("invoices"."number_sequence" is null) and ("invoices"."number_sequence" is null) = ("invoices"."number_year" is null)),
	CONSTRAINT "invoices_paid_check" CHECK (("invoices"."status" = 'paid') = ("invoices"."paid_at" is not null and "invoices"."paid_via" is not null)),
	CONSTRAINT "invoices_paid_by_payment" CHECK ("invoices"."paid_via" is distinct from 'payment' or ("invoices"."payment_id" is not null and "invoices"."transfer_id" is not null)),
	CONSTRAINT "invoices_void_check" CHECK (("invoices"."status" = 'void') = ("invoices"."voided_at" is not null))
);
--> statement-breakpoint
ALTER TABLE "invoice_line_items" ADD CONSTRAINT "invoice_line_items_invoice_id_invoices_id_fk" FOREIGN KEY ("invoice_id") REFERENCES "public"."invoices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_customer_organization_id_organizations_id_fk" FOREIGN KEY ("customer_organization_id") REFERENCES "public"."organizations"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "public"."payments"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_transfer_id_ledger_transfers_id_fk" FOREIGN KEY ("transfer_id") REFERENCES "public"."ledger_transfers"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_marked_paid_by_users_id_fk" FOREIGN KEY ("marked_paid_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "invoice_line_items_position_unique" ON "invoice_line_items" USING btree ("invoice_id","position");--> statement-breakpoint
CREATE UNIQUE INDEX "invoices_issuer_number_unique" ON "invoices" USING btree (coalesce("organization_id"::text, 'platform'),"invoice_number");--> statement-breakpoint
CREATE UNIQUE INDEX "invoices_source_key_unique" ON "invoices" USING btree ("source_key");--> statement-breakpoint
CREATE INDEX "idx_invoices_user" ON "invoices" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "idx_invoices_issuer" ON "invoices" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "idx_invoices_customer_org" ON "invoices" USING btree ("customer_organization_id","id");--> statement-breakpoint
CREATE INDEX "idx_invoices_billing_email" ON "invoices" USING btree ("billing_email","id");--> statement-breakpoint
CREATE UNIQUE INDEX "payments_one_invoice_payment_in_flight" ON "payments" USING btree ("reference_id") WHERE "payments"."purpose" = 'invoice' and "payments"."status" in ('pending', 'processing');
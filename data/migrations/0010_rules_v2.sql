-- 0010: the columns of the data contract's rules version 2 (issue 13). See docs/RULES.md.
--
-- sharing_agreements.pia_done_on: impact assessment before providing or disclosing
--   personal information (PIPL Art. 55(3)): SHARE-PIA.
-- incidents: the facts PIPL Art. 57 and the CAC reporting measures (2025) turn on:
--   pi_authority_notified_at  notice to the authority protecting PI (INC-PI-AUTHORITY);
--   user_notice_exemption     why no user notice is needed (Art. 57 para. 2);
--   suspected_crime           the police are told promptly (INC-POLICE);
--   cii_involved              critical information infrastructure: the 1 h clocks;
--   important_data_involved   important or core data: at least relatively major (INC-GRADE);
--   economic_loss_cny         direct economic loss in yuan (INC-GRADE).
-- All nullable: rows written before this migration, and files written for version 1,
-- simply have no value (null means "not recorded").
ALTER TABLE sharing_agreements ADD COLUMN pia_done_on DATE;
ALTER TABLE incidents ADD COLUMN pi_authority_notified_at TIMESTAMPTZ;
ALTER TABLE incidents ADD COLUMN user_notice_exemption VARCHAR;
ALTER TABLE incidents ADD COLUMN suspected_crime BOOLEAN;
ALTER TABLE incidents ADD COLUMN cii_involved BOOLEAN;
ALTER TABLE incidents ADD COLUMN important_data_involved BOOLEAN;
ALTER TABLE incidents ADD COLUMN economic_loss_cny DECIMAL(18,2);

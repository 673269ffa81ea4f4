-- Two coordinators editing the same draft must not silently overwrite each other: every
-- save of the draft bumps its revision, and a save naming the revision it started from is
-- refused when another came in between (`update … where draft_revision = $base`). Who saved
-- it last is kept to say so. Publishing leaves both alone.
alter table questionnaire
    add column draft_revision bigint not null default 1,
    add column updated_by uuid references app_user (id) on delete set null;

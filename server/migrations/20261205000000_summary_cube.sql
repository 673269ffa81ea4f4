-- The summaries' cube: the rollup's counts (see `summary_count`) per version, review state
-- and answer to one of a version's first eight single-choice questions (`b`, named as `q`
-- is; `bv` its answer as JSON: a string, or null when unanswered), without the day. It
-- serves the side-by-side view (`by`) and a filter on one such question (`where`) when no
-- dates are asked. Covered by `summary_folded.upto` and written with `summary_count`, in
-- the same transactions.

create table summary_cube (
    questionnaire_id bigint not null references questionnaire (id) on delete cascade,
    version integer not null,
    review_state text not null,
    b text not null,
    bv text not null,
    q text not null,
    k text not null,
    n bigint not null,
    primary key (questionnaire_id, b, q, k, bv, version, review_state)
);

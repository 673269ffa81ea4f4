-- The summaries' rollup: the counts that the summaries' grouping-sets query makes, kept per
-- version, day (the phone's local date of completion) and review state, for every response
-- of a questionnaire up to `summary_folded.upto` (a `seq`). A summary filtered only on
-- version, dates and review state adds these counts to the same query run over the
-- responses past `upto`, rather than reading every response's answers.
--
-- Written only by the fold (the server, in the background) and by a review that changes a
-- folded response's state, both under a per-questionnaire advisory lock. `q` names the
-- question and its measure (`choice [null,["conseil"]]`), `k` its key (`''` for a unit).

create table summary_count (
    questionnaire_id bigint not null references questionnaire (id) on delete cascade,
    version integer not null,
    day text not null,
    review_state text not null,
    q text not null,
    k text not null,
    n bigint not null,
    primary key (questionnaire_id, q, k, version, day, review_state)
);

create table summary_folded (
    questionnaire_id bigint primary key references questionnaire (id) on delete cascade,
    upto bigint not null
);

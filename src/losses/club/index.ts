/**
 * CLUB (docs/method.md §3.2–§3.4): the variational network q(y|x) and its bound (club.ts), and q's own training
 * loop (fit.ts, which depends on club.ts and not the other way).
 */
export { Club, clubUpperBoundReadable, type ClubOptions, type ClubFitOptions } from "./club";
export { fitClub, fitClubReadable, newClubAdamState, type ClubAdamState, type ClubFitSettings, type ClubPair } from "./fit";

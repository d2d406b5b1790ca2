// The throwaway PostgreSQL cluster lives with the local stack (`npm start` starts one too).
export { postgresBinDir, startThrowawayCluster, type ThrowawayCluster } from '../../dev/local/postgres';

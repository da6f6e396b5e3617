-- AlterTable
ALTER TABLE "notifications" ADD COLUMN     "trace_context" TEXT;

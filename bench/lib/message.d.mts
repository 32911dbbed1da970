export declare const BENCH_FROM: string;
export declare const BENCH_TO: string;
export declare function body(bodyBytes: number): string;
export declare function benchMessage(i: number, bodyBytes?: number, tag?: string, to?: string): { raw: Buffer; messageId: string };
export declare function rfc5322Date(d?: Date): string;

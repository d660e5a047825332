package dev.tokenmarket.platform.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import jakarta.ws.rs.HttpMethod;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.container.ContainerResponseContext;
import org.jboss.resteasy.reactive.server.ServerResponseFilter;
import org.jboss.resteasy.reactive.server.SimpleResourceInfo;

import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Counts every API request by route (the path template, never the path itself, so ids do not become
 * labels) and status: {@code tokenmarket_http_requests_total{method, route, status}}; and every refused one by
 * its stable error code: {@code tokenmarket_http_errors_total{method, route, code}}.
 */
@Singleton
public class HttpRequestMetrics {

    /** Routes whose counters are kept; the API has a few dozen, so this only guards against a bug. */
    private static final int ROUTES_MAX = 1_000;
    private static final int STATUS_MAX = 600;

    private final MeterRegistry registry;
    /** By resource class, then by method name: computed once per resource method. */
    private final ClassValue<Map<String, Route>> routes = new ClassValue<>() {
        @Override
        protected Map<String, Route> computeValue(Class<?> type) {
            return new ConcurrentHashMap<>();
        }
    };
    private final Route unmatched;
    private final Map<String, Route> byTemplate = new ConcurrentHashMap<>();

    @Inject
    public HttpRequestMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.unmatched = new Route(registry, "", "unmatched");
    }

    @ServerResponseFilter
    public void count(ContainerResponseContext response, SimpleResourceInfo resource) {
        route(resource).count(response.getStatus(), response.getEntity());
    }

    /** The counters of the resource method that served the request. */
    public Route route(SimpleResourceInfo resource) {
        if (resource == null || resource.getResourceClass() == null) {
            return unmatched;
        }
        // Keyed by method name: no resource class of this API overloads a resource method.
        Map<String, Route> ofClass = routes.get(resource.getResourceClass());
        Route route = ofClass.get(resource.getMethodName());
        if (route != null) {
            return route;
        }
        if (byTemplate.size() >= ROUTES_MAX) {
            return unmatched;
        }
        Route found = describe(resource);
        ofClass.putIfAbsent(resource.getMethodName(), found);
        return found;
    }

    private Route describe(SimpleResourceInfo resource) {
        Class<?> type = resource.getResourceClass();
        Method method;
        try {
            method = type.getMethod(resource.getMethodName(), resource.parameterTypes());
        } catch (NoSuchMethodException e) {
            return unmatched;
        }
        Path classPath = type.getAnnotation(Path.class);
        Path methodPath = method.getAnnotation(Path.class);
        String template = join(classPath == null ? "" : classPath.value(), methodPath == null ? "" : methodPath.value());
        String httpMethod = "";
        for (Annotation a : method.getAnnotations()) {
            HttpMethod verb = a.annotationType().getAnnotation(HttpMethod.class);
            if (verb != null) {
                httpMethod = verb.value();
            }
        }
        String verb = httpMethod;
        return byTemplate.computeIfAbsent(verb + " " + template, k -> new Route(registry, verb, template));
    }

    static String join(String classPath, String methodPath) {
        String joined = ("/" + classPath + "/" + methodPath).replaceAll("/+", "/");
        return joined.length() > 1 && joined.endsWith("/") ? joined.substring(0, joined.length() - 1) : joined;
    }

    /** The counters of one route, each created on the first use of its status or error code. */
    public static final class Route {
        private final MeterRegistry registry;
        private final String method;
        private final String template;
        private final AtomicReferenceArray<Counter> byStatus = new AtomicReferenceArray<>(STATUS_MAX);
        private final Map<String, Counter> errorsByCode = new ConcurrentHashMap<>();

        Route(MeterRegistry registry, String method, String template) {
            this.registry = registry;
            this.method = method;
            this.template = template;
        }

        public void count(int status, Object entity) {
            int index = status >= 0 && status < STATUS_MAX ? status : 0;
            Counter requests = byStatus.get(index);
            if (requests == null) {
                requests = Counter.builder("tokenmarket.http.requests").description("API requests answered, by route and status")
                        .tag("method", method).tag("route", template).tag("status", Integer.toString(index))
                        .register(registry);
                byStatus.set(index, requests);
            }
            requests.increment();
            if (status >= 400) {
                errorsByCode.computeIfAbsent(errorCode(entity), code -> Counter.builder("tokenmarket.http.errors")
                        .description("API requests refused or failed, by route and stable error code")
                        .tag("method", method).tag("route", template).tag("code", code).register(registry)).increment();
            }
        }
    }

    /**
     * The stable code of an error body: {@code error.code} in the OpenAI shape, {@code code} in problem
     * details. Codes come from a fixed list, so they are a bounded label.
     */
    static String errorCode(Object entity) {
        if (entity instanceof Map<?, ?> body) {
            if (body.get("code") instanceof String code) {
                return code;
            }
            if (body.get("error") instanceof Map<?, ?> error && error.get("code") instanceof String code) {
                return code;
            }
        }
        return "unknown";
    }
}
